"""The operator (API_KEY) manages projects and the shared model catalogue; a project's admin key
manages its own project's keys and sees no other project."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

DEFAULT_PROJECT = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
async def project_admin(client: httpx.AsyncClient) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """(its project id, a client) for an admin key of a second project."""
    project = (await client.post("/v1/projects", json={"name": "tenant"})).json()
    created = await client.post(
        f"/v1/projects/{project['project_id']}/keys", json={"name": "boss", "scopes": ["admin"]}
    )
    assert created.status_code == 201, created.text
    async with httpx.AsyncClient(
        transport=client._transport,
        base_url="http://testserver",
        headers={"X-API-Key": created.json()["key"]},
    ) as http:
        yield project["project_id"], http


async def test_a_project_admin_manages_its_own_keys(
    project_admin: tuple[str, httpx.AsyncClient],
) -> None:
    project_id, admin = project_admin
    made = await admin.post(f"/v1/projects/{project_id}/keys", json={"name": "ci"})
    assert made.status_code == 201
    listed = await admin.get(f"/v1/projects/{project_id}/keys")
    assert {k["name"] for k in listed.json()["items"]} == {"boss", "ci"}
    revoked = await admin.delete(f"/v1/projects/{project_id}/keys/{made.json()['key_id']}")
    assert revoked.status_code == 200


async def test_a_project_admin_sees_no_other_project(
    client: httpx.AsyncClient, project_admin: tuple[str, httpx.AsyncClient]
) -> None:
    _, admin = project_admin
    operator_keys = (await client.get(f"/v1/projects/{DEFAULT_PROJECT}/keys")).json()["items"]
    for method, path, body in (
        ("POST", f"/v1/projects/{DEFAULT_PROJECT}/keys", {"name": "stolen", "scopes": ["admin"]}),
        ("GET", f"/v1/projects/{DEFAULT_PROJECT}/keys", None),
        ("DELETE", f"/v1/projects/{DEFAULT_PROJECT}/keys/{DEFAULT_PROJECT}", None),
    ):
        answer = await admin.request(method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
    after = (await client.get(f"/v1/projects/{DEFAULT_PROJECT}/keys")).json()["items"]
    assert after == operator_keys


async def test_projects_and_models_are_the_operators(
    client: httpx.AsyncClient, project_admin: tuple[str, httpx.AsyncClient]
) -> None:
    _, admin = project_admin
    for method, path, body in (
        ("GET", "/v1/projects", None),
        ("POST", "/v1/projects", {"name": "another"}),
        ("PUT", "/v1/models/openai/gpt-4o-mini", {"input_price_per_mtok": 0}),
    ):
        answer = await admin.request(method, path, json=body)
        assert answer.status_code == 403, (method, path, answer.text)
        assert "operator" in answer.json()["detail"]
    assert (await admin.get("/v1/models")).status_code == 200  # reading prices is for everyone
    assert (await client.get("/v1/projects")).status_code == 200
