"""Two levels of administration (issue #11, item 3): a project's ``admin`` key manages that
project's keys only; the instance operator (the bootstrap key, or a stored ``operator`` key)
manages projects, the model catalogue and prices, and the keys of every project."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from prompt_ledger.records import DEFAULT_PROJECT_ID
from tests.execution_fixtures import gateway
from tests.integration.test_errors import assert_problem
from tests.live_gateway import demo_settings

RUN = {
    "prompt_name": "secret_prompt",
    "variables": {"x": "confidential"},
    "model": {"provider": "openai", "model_name": "gpt-4o-mini"},  # the demo provider answers
}


@dataclass
class Tenants:
    operator: httpx.AsyncClient
    a_id: str
    a_key_id: str
    a_execution: str
    b_id: str
    b_admin: httpx.AsyncClient


async def mint(
    http: httpx.AsyncClient, project_id: str, scopes: list[str], name: str = "k"
) -> dict[str, Any]:
    created = await http.post(
        f"/v1/projects/{project_id}/keys", json={"name": name, "scopes": scopes}
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def as_key(operator: httpx.AsyncClient, secret: str) -> httpx.AsyncClient:
    """A client of the same in-process gateway holding another key."""
    return httpx.AsyncClient(
        transport=operator._transport, base_url="http://testserver", headers={"X-API-Key": secret}
    )


@pytest.fixture
async def tenants(database_url: str) -> AsyncIterator[Tenants]:
    """Projects A and B; A has a prompt and an execution; B has an admin key."""
    async with gateway(demo_settings(database_url)) as (container, operator):
        await container.catalog.seed()
        a_id = (await operator.post("/v1/projects", json={"name": "a"})).json()["project_id"]
        b_id = (await operator.post("/v1/projects", json={"name": "b"})).json()["project_id"]
        a_key = await mint(operator, a_id, ["prompts:write", "execute"])
        async with as_key(operator, a_key["key"]) as a:
            put = await a.put("/v1/prompts/secret_prompt", json={"template_source": "{{ x }}"})
            assert put.status_code == 201, put.text
            run = await a.post("/v1/executions:run", json=RUN)
            assert run.status_code == 200, run.text
        b_admin_key = await mint(operator, b_id, ["admin"])
        async with as_key(operator, b_admin_key["key"]) as b_admin:
            yield Tenants(
                operator, a_id, a_key["key_id"], run.json()["execution_id"], b_id, b_admin
            )


async def test_a_project_admin_cannot_touch_another_project(tenants: Tenants) -> None:
    b, a_id = tenants.b_admin, tenants.a_id
    for method, url, body in [
        ("POST", f"/v1/projects/{a_id}/keys", {"name": "mine-now", "scopes": ["admin"]}),
        ("GET", f"/v1/projects/{a_id}/keys", None),
        ("DELETE", f"/v1/projects/{a_id}/keys/{tenants.a_key_id}", None),
        # an unknown project answers the same, so project ids cannot be probed
        ("GET", "/v1/projects/00000000-0000-0000-0000-00000000beef/keys", None),
    ]:
        problem = assert_problem(await b.request(method, url, json=body), 404)
        assert problem["detail"].startswith("Project ")  # not there for B's key

    # A's data stays invisible: B's admin sees B's (empty) registry and ledger
    assert (await b.get("/v1/prompts/secret_prompt")).status_code == 404
    assert (await b.get("/v1/prompts")).json()["items"] == []
    assert (await b.get(f"/v1/executions/{tenants.a_execution}")).status_code == 404
    assert "confidential" not in (await b.get("/v1/executions")).text

    keys = (await tenants.operator.get(f"/v1/projects/{a_id}/keys")).json()["items"]
    assert [(k["name"], k["revoked_at"]) for k in keys] == [("k", None)]  # nothing minted


async def test_a_project_admin_cannot_run_the_instance(tenants: Tenants) -> None:
    b = tenants.b_admin
    for method, url, body in [
        ("GET", "/v1/projects", None),
        ("POST", "/v1/projects", {"name": "c"}),
        ("PUT", "/v1/models/openai/gpt-4o-mini", {"input_price_per_mtok": 0}),
        ("POST", f"/v1/projects/{tenants.b_id}/keys", {"name": "up", "scopes": ["operator"]}),
    ]:
        problem = assert_problem(await b.request(method, url, json=body), 403)
        assert problem["required_scope"] == "operator"
        assert "instance operator" in problem["detail"]
    models = (await b.get("/v1/models", params={"provider": "openai"})).json()["items"]
    assert models  # reading the shared catalogue is fine


async def test_a_project_admin_manages_its_own_keys(tenants: Tenants) -> None:
    b, b_id = tenants.b_admin, tenants.b_id
    created = await mint(b, b_id, ["prompts:read", "admin"], name="deputy")
    assert created["project_id"] == b_id
    listed = (await b.get(f"/v1/projects/{b_id}/keys")).json()["items"]
    assert {k["name"] for k in listed} == {"deputy", "k"}
    async with as_key(tenants.operator, created["key"]) as deputy:
        assert (await deputy.get("/v1/prompts")).status_code == 200
        revoked = await b.delete(f"/v1/projects/{b_id}/keys/{created['key_id']}")
        assert revoked.status_code == 200, revoked.text
        assert (await deputy.get("/v1/prompts")).status_code == 401


async def test_the_operator_does_all_and_can_delegate(tenants: Tenants) -> None:
    op, a_id = tenants.operator, tenants.a_id
    assert {p["name"] for p in (await op.get("/v1/projects")).json()["items"]} == {
        "a",
        "b",
        "default",
    }
    price = await op.put("/v1/models/openai/gpt-4o-mini", json={"input_price_per_mtok": 1.5})
    assert price.status_code == 200, price.text
    assert (await op.get(f"/v1/projects/{a_id}/keys")).status_code == 200

    # a stored operator key (in any project) is an operator too; only the operator mints it
    stored = await mint(op, tenants.b_id, ["operator"], name="ops-laptop")
    async with as_key(op, stored["key"]) as ops:
        assert (await ops.post("/v1/projects", json={"name": "c"})).status_code == 201
        assert (await ops.get(f"/v1/projects/{a_id}/keys")).status_code == 200
    # B's admin cannot revoke it, though it lives in B
    problem = assert_problem(
        await tenants.b_admin.delete(f"/v1/projects/{tenants.b_id}/keys/{stored['key_id']}"), 403
    )
    assert problem["required_scope"] == "operator"
    revoked = await op.delete(f"/v1/projects/{tenants.b_id}/keys/{stored['key_id']}")
    assert revoked.status_code == 200


async def test_the_bootstrap_key_stays_an_admin_of_the_default_project(tenants: Tenants) -> None:
    listed = await tenants.operator.get(f"/v1/projects/{DEFAULT_PROJECT_ID}/keys")
    assert listed.status_code == 200
    assert (await tenants.operator.get("/v1/prompts")).json()["items"] == []  # default's own
