"""The registry API's error matrix, through the in-process gateway.

Every failure is an RFC 9457 ``application/problem+json`` body with type, title, status and
detail; nothing a caller can send produces a 500 or a traceback (an autouse guard checks every
response of every client in this module, including the set-up calls)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prompt_ledger.auth import Authenticator, Principal
from prompt_ledger.bodies import encode_cursor
from prompt_ledger.cache import GroupCache
from prompt_ledger.container import Container
from prompt_ledger.db.store import Database
from prompt_ledger.gateway import create_gateway
from prompt_ledger.http.dispatch import HttpFunction
from prompt_ledger.http.endpoint import Call, Endpoint, Reply
from prompt_ledger.records import DEFAULT_PROJECT_ID
from prompt_ledger.settings import DEFAULT_API_KEY, Settings
from tests.conftest import create_database, drop_database

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://promptledger.dev/problems/"
ONE_MIB = 1_048_576


# --- helpers -----------------------------------------------------------------------------------


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status; returns its body."""
    assert response.status_code == status, response.text[:2000]
    assert response.headers["content-type"].split(";")[0].strip() == PROBLEM_JSON
    assert "Traceback" not in response.text
    body: dict[str, Any] = response.json()
    assert isinstance(body, dict)
    assert {"type", "title", "status", "detail"} <= body.keys(), body
    assert body["status"] == status
    assert isinstance(body["type"], str)
    assert body["type"].startswith(PROBLEMS)
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


def slug(problem: dict[str, Any]) -> str:
    return str(problem["type"]).removeprefix(PROBLEMS)


async def _never_crashes(response: httpx.Response) -> None:
    await response.aread()
    where = f"{response.request.method} {response.request.url}"
    assert response.status_code != 500, f"{where}: {response.text[:2000]}"
    assert "Traceback" not in response.text, where


def guard(http: httpx.AsyncClient) -> httpx.AsyncClient:
    http.event_hooks["response"].append(_never_crashes)
    return http


@pytest.fixture(autouse=True)
def _no_500s(request: pytest.FixtureRequest) -> None:
    for name in ("client", "other_project_client"):
        if name in request.fixturenames:
            guard(request.getfixturevalue(name))


async def put_text(
    client: httpx.AsyncClient, name: str, template: str, **extra: Any
) -> dict[str, Any]:
    response = await client.put(f"/v1/prompts/{name}", json={"template_source": template, **extra})
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def send_raw(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    content: bytes,
    content_type: str = "application/json",
) -> httpx.Response:
    return await client.request(
        method, url, content=content, headers={"Content-Type": content_type}
    )


async def send_without_key(
    client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """A request with the client's default key removed (and these headers, if any)."""
    request = client.build_request(method, url)
    del request.headers["X-API-Key"]
    request.headers.update(headers or {})
    return await client.send(request)


async def create_key(client: httpx.AsyncClient, scopes: list[str]) -> dict[str, Any]:
    created = await client.post(
        f"/v1/projects/{DEFAULT_PROJECT_ID}/keys", json={"name": "test-key", "scopes": scopes}
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def two_versions_second_active(client: httpx.AsyncClient, name: str) -> None:
    await put_text(client, name, "first {{ x }}")
    second = await put_text(client, name, "second {{ x }}")
    assert second["version"]["version_number"] == 2
    assert second["active_version_number"] == 2


# --- 401 ---------------------------------------------------------------------------------------


async def test_no_key_is_401(client: httpx.AsyncClient) -> None:
    for method, url in (("GET", "/v1/prompts"), ("GET", "/v1/prompts/x"), ("PUT", "/v1/prompts/x")):
        response = await send_without_key(client, method, url)
        problem = assert_problem(response, 401)
        assert slug(problem) == "unauthorized"
        assert "X-API-Key" in problem["detail"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_wrong_key_is_401(client: httpx.AsyncClient) -> None:
    for key in ("pl_not-a-real-key", DEFAULT_API_KEY + "x", "k" * 600):
        response = await client.get("/v1/prompts", headers={"X-API-Key": key})
        assert slug(assert_problem(response, 401)) == "unauthorized"


@pytest.mark.parametrize(
    "authorization",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "Token abc", DEFAULT_API_KEY],
)
async def test_malformed_authorization_header_is_401(
    client: httpx.AsyncClient, authorization: str
) -> None:
    response = await send_without_key(
        client, "GET", "/v1/prompts", headers={"Authorization": authorization}
    )
    assert slug(assert_problem(response, 401)) == "unauthorized"


async def test_bearer_dev_key_works(client: httpx.AsyncClient) -> None:
    for scheme in ("Bearer", "bearer"):
        response = await send_without_key(
            client, "GET", "/v1/prompts", headers={"Authorization": f"{scheme} {DEFAULT_API_KEY}"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["items"] == []


async def test_revoked_key_is_401(client: httpx.AsyncClient) -> None:
    key = await create_key(client, ["prompts:read"])
    before = await client.get("/v1/prompts", headers={"X-API-Key": key["key"]})
    assert before.status_code == 200, before.text

    revoked = await client.delete(f"/v1/projects/{DEFAULT_PROJECT_ID}/keys/{key['key_id']}")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None

    for headers in ({"X-API-Key": key["key"]}, {"Authorization": f"Bearer {key['key']}"}):
        response = await send_without_key(client, "GET", "/v1/prompts", headers=headers)
        problem = assert_problem(response, 401)
        assert "revoked" in problem["detail"]


async def test_a_key_longer_than_512_characters_is_refused_unread(
    client: httpx.AsyncClient,
) -> None:
    """Up to 512 characters a key is looked up (and not found); past that it is refused at once,
    hashed and read from no database."""
    details = []
    for length in (512, 513):
        response = await client.get("/v1/prompts", headers={"X-API-Key": "k" * length})
        details.append(assert_problem(response, 401)["detail"])
    assert details == ["Invalid or revoked API key.", "Invalid API key."]


async def test_spaces_around_a_key_are_not_part_of_it(client: httpx.AsyncClient) -> None:
    for headers in (
        {"X-API-Key": f"  {DEFAULT_API_KEY} "},
        {"Authorization": f"Bearer   {DEFAULT_API_KEY}"},
    ):
        response = await send_without_key(client, "GET", "/v1/prompts", headers=headers)
        assert response.status_code == 200, (headers, response.text)


async def test_a_stored_key_is_its_project_scopes_and_limits_and_its_use_is_recorded(
    client: httpx.AsyncClient, container: Container, database_url: str
) -> None:
    """The principal of a stored key; its last use is written on first use, then at most once a
    minute (an authenticator with no cache, so every call reads the key)."""
    created = await client.post(
        f"/v1/projects/{DEFAULT_PROJECT_ID}/keys",
        json={
            "name": "limited",
            "scopes": ["prompts:read", "execute"],
            "requests_per_minute": 7,
            "executions_per_minute": 3,
        },
    )
    assert created.status_code == 201, created.text
    key = created.json()
    uncached = Authenticator(container.db, DEFAULT_API_KEY, GroupCache("keys", 0))

    async def last_used() -> Any:
        async with await psycopg.AsyncConnection.connect(database_url) as connection:
            cursor = await connection.execute(
                "SELECT last_used_at FROM api_keys WHERE key_id = %s", [key["key_id"]]
            )
            row = await cursor.fetchone()
            assert row is not None
            return row[0]

    assert await last_used() is None
    principal = await uncached.authenticate(key["key"])
    assert principal == Principal(
        uuid.UUID(DEFAULT_PROJECT_ID),
        frozenset({"prompts:read", "execute"}),
        uuid.UUID(key["key_id"]),
        7,
        3,
    )
    first = await last_used()
    assert first is not None
    assert await uncached.authenticate(key["key"]) == principal
    assert await last_used() == first  # within the minute: not written again

    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as connection:
        await connection.execute(
            "UPDATE api_keys SET last_used_at = last_used_at - interval '2 minutes' "
            "WHERE key_id = %s",
            [key["key_id"]],
        )
    aged = await last_used()
    await uncached.authenticate(key["key"])
    assert await last_used() > aged  # a minute later: written again


# --- 403 ---------------------------------------------------------------------------------------


async def test_key_without_write_scope_cannot_put(client: httpx.AsyncClient) -> None:
    key = (await create_key(client, ["prompts:read"]))["key"]
    response = await client.put(
        "/v1/prompts/x", json={"template_source": "hi"}, headers={"X-API-Key": key}
    )
    problem = assert_problem(response, 403)
    assert slug(problem) == "forbidden"
    assert problem["required_scope"] == "prompts:write"
    assert "prompts:write" in problem["detail"]
    assert (await client.get("/v1/prompts/x")).status_code == 404  # nothing was written

    activate = await client.post("/v1/prompts/x/versions/1:activate", headers={"X-API-Key": key})
    assert assert_problem(activate, 403)["required_scope"] == "labels:promote"


async def test_non_admin_key_cannot_administer(other_project_client: httpx.AsyncClient) -> None:
    calls = [
        ("POST", "/v1/projects", {"name": "sneaky"}, "operator"),
        ("GET", "/v1/projects", None, "operator"),
        ("POST", f"/v1/projects/{DEFAULT_PROJECT_ID}/keys", {"name": "k"}, "admin"),
        ("GET", f"/v1/projects/{DEFAULT_PROJECT_ID}/keys", None, "admin"),
        ("PUT", "/v1/models/openai/gpt-x", {}, "operator"),
    ]
    for method, url, body, needed in calls:
        response = await other_project_client.request(method, url, json=body)
        problem = assert_problem(response, 403)
        assert problem["required_scope"] == needed
        assert f"'{needed}'" in problem["detail"]


# --- 404 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/v1/prompts/nope", None),
        ("GET", "/v1/prompts/nope/versions", None),
        ("GET", "/v1/prompts/nope/versions/1", None),
        ("GET", "/v1/prompts/nope/labels", None),
        ("GET", "/v1/prompts/nope/labels/history", None),
        ("GET", "/v1/prompts/nope/diff?from=1&to=2", None),
        ("PUT", "/v1/prompts/nope/labels/prod", {"version": 1}),
        ("DELETE", "/v1/prompts/nope/labels/prod", None),
        ("POST", "/v1/prompts/nope:render", {"variables": {}}),
        ("POST", "/v1/prompts/nope/versions/1:activate", {}),
        ("POST", "/v1/prompts/nope/versions/1:archive", None),
    ],
)
async def test_unknown_prompt_is_404(
    client: httpx.AsyncClient, method: str, url: str, body: dict[str, Any] | None
) -> None:
    problem = assert_problem(await client.request(method, url, json=body), 404)
    assert slug(problem) == "not-found"
    assert "'nope'" in problem["detail"]


@pytest.mark.parametrize("url", ["/v1/nope", "/v2/prompts", "/nope", "/v1", "/v1/prompts/a/b/c/d"])
async def test_unknown_route_is_404(client: httpx.AsyncClient, url: str) -> None:
    assert slug(assert_problem(await client.get(url), 404)) == "not-found"
    # routing comes before authentication: no key, same answer
    assert_problem(await send_without_key(client, "GET", url), 404)


async def test_another_projects_prompt_is_invisible(
    client: httpx.AsyncClient, other_project_client: httpx.AsyncClient
) -> None:
    await put_text(client, "secret", "classified {{ x }}")
    other = other_project_client
    for method, url, body in [
        ("GET", "/v1/prompts/secret", None),
        ("GET", "/v1/prompts/secret/versions", None),
        ("GET", "/v1/prompts/secret/versions/1", None),
        ("GET", "/v1/prompts/secret/labels", None),
        ("PUT", "/v1/prompts/secret/labels/prod", {"version": 1}),
        ("DELETE", "/v1/prompts/secret/labels/prod", None),
        ("POST", "/v1/prompts/secret:render", {"variables": {"x": 1}}),
        ("POST", "/v1/prompts/secret/versions/1:activate", {}),
        ("POST", "/v1/prompts/secret/versions/1:archive", None),
        ("GET", "/v1/prompts/secret/diff?from=1&to=1", None),
    ]:
        problem = assert_problem(await other.request(method, url, json=body), 404)
        assert "classified" not in problem["detail"]

    listed = await other.get("/v1/prompts")
    assert listed.status_code == 200
    assert listed.json() == {"items": [], "next_cursor": None}
    assert (await other.get("/v1/prompts", params={"search": "secret"})).json()["items"] == []

    # the same name in the other project is a different prompt; the original is untouched
    mine = await other.put("/v1/prompts/secret", json={"template_source": "mine"})
    assert mine.status_code == 201, mine.text
    original = (await client.get("/v1/prompts/secret")).json()
    assert original["version"]["template_source"] == "classified {{ x }}"
    assert original["labels"] == {}


async def test_unknown_version_is_404(client: httpx.AsyncClient) -> None:
    await put_text(client, "p", "hello {{ x }}")
    for response in (
        await client.get("/v1/prompts/p/versions/2"),
        await client.get("/v1/prompts/p/versions/0"),
        await client.get("/v1/prompts/p", params={"version": 7}),
        await client.post("/v1/prompts/p:render", json={"variables": {"x": 1}, "version": 7}),
        await client.put("/v1/prompts/p/labels/prod", json={"version": 7}),
        await client.post("/v1/prompts/p/versions/7:activate", json={}),
        await client.post("/v1/prompts/p/versions/7:archive"),
        await client.get("/v1/prompts/p/diff", params={"from": 1, "to": 7}),
    ):
        problem = assert_problem(response, 404)
        assert "version" in problem["detail"]


async def test_unknown_label_is_404(client: httpx.AsyncClient) -> None:
    await put_text(client, "p", "hello")
    for response in (
        await client.get("/v1/prompts/p", params={"label": "prod"}),
        await client.post("/v1/prompts/p:render", json={"label": "prod"}),
        await client.delete("/v1/prompts/p/labels/prod"),
    ):
        problem = assert_problem(response, 404)
        assert "label 'prod'" in problem["detail"]


async def test_unknown_project_and_key_are_404(client: httpx.AsyncClient) -> None:
    missing = "00000000-0000-0000-0000-00000000abcd"
    assert_problem(await client.post(f"/v1/projects/{missing}/keys", json={"name": "k"}), 404)
    assert_problem(await client.get(f"/v1/projects/{missing}/keys"), 404)
    assert_problem(await client.delete(f"/v1/projects/{DEFAULT_PROJECT_ID}/keys/{missing}"), 404)
    assert_problem(await client.delete("/v1/projects/not-a-uuid/keys/nor-this"), 404)


@pytest.mark.parametrize(
    "url", ["/v1/executions/%09", "/v1/executions/%0A", "/v1/prompts/%0D", "/v1/prompts/a%09"]
)
async def test_control_characters_in_a_path_are_not_dropped(
    client: httpx.AsyncClient, url: str
) -> None:
    """`/v1/executions/%09` is not `/v1/executions/` (the list): the id is a tab, no id."""
    response = await client.get(url)
    assert response.status_code in (404, 422), response.text
    problem = assert_problem(response, response.status_code)
    assert "items" not in problem


async def test_a_colon_starts_an_action_not_a_name(client: httpx.AsyncClient) -> None:
    """`{name}:render` is an action; `x:y` names no action, so no endpoint (not a bad name)."""
    for method in ("GET", "PUT"):
        problem = assert_problem(await client.request(method, "/v1/prompts/x:y"), 404)
        assert "No endpoint" in problem["detail"]


# --- 405 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "allow"),
    [
        ("DELETE", "/v1/prompts/x", "GET, PUT"),
        ("PATCH", "/v1/prompts/x", "GET, PUT"),
        ("POST", "/v1/prompts/x", "GET, PUT"),
        ("DELETE", "/v1/prompts", "GET"),
        ("GET", "/v1/prompts:register", "POST"),
        ("POST", "/v1/prompts/x/labels", "GET"),
        ("PUT", "/v1/projects", "GET, POST"),
        ("OPTIONS", "/v1/prompts/x", "GET, PUT"),
        # an action's path is its own: not also the path of the resource it acts on
        ("GET", "/v1/executions/0b5e0b2c-4f43-4b43-9d4b-2f1f0c8d2a11:cancel", "POST"),
        ("GET", "/v1/prompts/x:render", "POST"),
        # a literal segment beats a parameter: the label history, not a label named 'history'
        ("PUT", "/v1/prompts/x/labels/history", "GET"),
        ("DELETE", "/v1/prompts/x/labels/history", "GET"),
    ],
)
async def test_wrong_method_is_405_with_allow(
    client: httpx.AsyncClient, method: str, url: str, allow: str
) -> None:
    response = await client.request(method, url)
    problem = assert_problem(response, 405)
    assert slug(problem) == "method-not-allowed"
    assert response.headers["Allow"] == allow
    assert method in problem["detail"]


# --- 409 ---------------------------------------------------------------------------------------


async def test_tracking_mode_prompt_refuses_api_edits(client: httpx.AsyncClient) -> None:
    registered = await client.post(
        "/v1/prompts:register",
        json={"prompts": [{"name": "from_code", "template": "Hi {{ who }}"}]},
    )
    assert registered.status_code == 200, registered.text

    problem = assert_problem(
        await client.put("/v1/prompts/from_code", json={"template_source": "edited"}), 409
    )
    assert slug(problem) == "conflict"
    assert problem["mode"] == "tracking"
    assert "tracking mode" in problem["detail"]

    for url in (
        "/v1/prompts/from_code/versions/1:archive",
        "/v1/prompts/from_code/versions/1:activate",
    ):
        assert assert_problem(await client.post(url, json={}), 409)["mode"] == "tracking"

    unchanged = (await client.get("/v1/prompts/from_code")).json()
    assert unchanged["version"]["template_source"] == "Hi {{ who }}"


async def test_registration_cannot_take_over_an_api_prompt(client: httpx.AsyncClient) -> None:
    await put_text(client, "managed", "by the API")
    response = await client.post(
        "/v1/prompts:register", json={"prompts": [{"name": "managed", "template": "by code"}]}
    )
    assert "mode 'full'" in assert_problem(response, 409)["detail"]
    assert (await client.get("/v1/prompts/managed")).json()["mode"] == "full"


async def test_archiving_the_active_version_is_409(client: httpx.AsyncClient) -> None:
    await put_text(client, "p", "only {{ x }}")
    problem = assert_problem(await client.post("/v1/prompts/p/versions/1:archive"), 409)
    assert "active version" in problem["detail"]
    version = (await client.get("/v1/prompts/p/versions/1")).json()
    assert version["status"] == "active"


async def test_archiving_a_labelled_version_is_409(client: httpx.AsyncClient) -> None:
    await two_versions_second_active(client, "p")
    labelled = await client.put("/v1/prompts/p/labels/prod", json={"version": 1})
    assert labelled.status_code == 200, labelled.text
    problem = assert_problem(await client.post("/v1/prompts/p/versions/1:archive"), 409)
    assert problem["labels"] == ["prod"]


async def test_archived_versions_cannot_be_labelled_or_activated(
    client: httpx.AsyncClient,
) -> None:
    await two_versions_second_active(client, "p")
    archived = await client.post("/v1/prompts/p/versions/1:archive")
    assert archived.status_code == 200, archived.text
    assert archived.json()["status"] == "archived"

    problem = assert_problem(
        await client.put("/v1/prompts/p/labels/prod", json={"version": 1}), 409
    )
    assert "archived" in problem["detail"]
    problem = assert_problem(await client.post("/v1/prompts/p/versions/1:activate", json={}), 409)
    assert "archived" in problem["detail"]
    # re-sending the archived content with set_active (the default) cannot revive it either
    problem = assert_problem(
        await client.put("/v1/prompts/p", json={"template_source": "first {{ x }}"}), 409
    )
    assert "archived" in problem["detail"]

    after = (await client.get("/v1/prompts/p")).json()
    assert after["active_version_number"] == 2
    assert after["labels"] == {}


async def test_duplicate_project_name_is_409(client: httpx.AsyncClient) -> None:
    first = await client.post("/v1/projects", json={"name": "team-a"})
    assert first.status_code == 201, first.text
    problem = assert_problem(await client.post("/v1/projects", json={"name": "team-a"}), 409)
    assert "team-a" in problem["detail"]


# --- 413 ---------------------------------------------------------------------------------------


async def test_body_over_the_limit_with_content_length_is_413(client: httpx.AsyncClient) -> None:
    response = await client.put("/v1/prompts/big", json={"template_source": "a" * (2 * ONE_MIB)})
    assert int(response.request.headers["Content-Length"]) > 2 * ONE_MIB
    problem = assert_problem(response, 413)
    assert slug(problem) == "payload-too-large"
    assert problem["limit"] == ONE_MIB
    assert_problem(await client.get("/v1/prompts/big"), 404)


async def test_streamed_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"template_source": "'
        for _ in range(32):  # 2 MiB in 64 KiB chunks, no Content-Length
            yield b"a" * 65536
        yield b'"}'

    response = await client.put(
        "/v1/prompts/big", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "Content-Length" not in response.request.headers
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert assert_problem(response, 413)["limit"] == ONE_MIB
    assert_problem(await client.get("/v1/prompts/big"), 404)


async def test_absurd_content_length_is_413_not_500(client: httpx.AsyncClient) -> None:
    for declared in ("9" * 30, "9" * 5000):
        response = await client.put(
            "/v1/prompts/big",
            content=b"{}",
            headers={"Content-Type": "application/json", "Content-Length": declared},
        )
        assert_problem(response, 413)


async def test_body_just_under_the_limit_is_read(client: httpx.AsyncClient) -> None:
    # bounded by the 200 000-character template limit, not by the byte limit: a 422, not a 413
    response = await client.put("/v1/prompts/big", json={"template_source": "a" * 900_000})
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["loc"] == ["body", "template_source"]


# --- 415 ---------------------------------------------------------------------------------------


async def test_text_plain_body_is_415(client: httpx.AsyncClient) -> None:
    response = await send_raw(
        client, "PUT", "/v1/prompts/x", b'{"template_source": "hi"}', "text/plain"
    )
    problem = assert_problem(response, 415)
    assert slug(problem) == "unsupported-media-type"
    assert "text/plain" in problem["detail"]


async def test_form_body_is_415(client: httpx.AsyncClient) -> None:
    response = await client.put("/v1/prompts/x", data={"template_source": "hi"})
    assert response.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "x-www-form-urlencoded" in assert_problem(response, 415)["detail"]


async def test_body_without_content_type_is_415(client: httpx.AsyncClient) -> None:
    request = client.build_request("PUT", "/v1/prompts/x", content=b'{"template_source": "hi"}')
    assert "Content-Type" not in request.headers
    assert "'none'" in assert_problem(await client.send(request), 415)["detail"]


async def test_json_suffix_media_types_are_accepted(client: httpx.AsyncClient) -> None:
    for media in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = await send_raw(
            client, "PUT", "/v1/prompts/x", b'{"template_source": "hi"}', media
        )
        assert response.status_code in (200, 201), response.text


# --- 400 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", [b'{"template_source": ', b"{'template_source': 'x'}", b'{"a": 1,}', b"[1, 2", b"nul"]
)
async def test_malformed_json_is_400(client: httpx.AsyncClient, raw: bytes) -> None:
    problem = assert_problem(await send_raw(client, "PUT", "/v1/prompts/x", raw), 400)
    assert slug(problem) == "bad-request"
    assert problem["detail"].startswith("Malformed JSON at line 1 column ")


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        # shallow enough for json.loads, too deep to store and serialise back
        b'{"template_source": "x", "model_defaults": {"a": ' + b"[" * 300 + b"]" * 300 + b"}}",
    ],
    ids=["lists-100000", "objects-100000", "model-defaults-300"],
)
async def test_deeply_nested_json_is_400(client: httpx.AsyncClient, raw: bytes) -> None:
    problem = assert_problem(await send_raw(client, "PUT", "/v1/prompts/deep", raw), 400)
    assert problem["detail"] == "The JSON body is nested too deeply."
    assert_problem(await client.get("/v1/prompts/deep"), 404)


async def test_reasonably_nested_json_is_accepted(client: httpx.AsyncClient) -> None:
    nested: Any = {"leaf": True}
    for _ in range(100):
        nested = {"n": nested}
    response = await client.put(
        "/v1/prompts/nested", json={"template_source": "x", "model_defaults": nested}
    )
    assert response.status_code == 201, response.text[:500]
    assert (await client.get("/v1/prompts/nested")).json()["version"]["model_defaults"] == nested


async def test_invalid_utf8_is_400(client: httpx.AsyncClient) -> None:
    response = await send_raw(client, "PUT", "/v1/prompts/x", b'{"template_source": "caf\xe9"}')
    assert assert_problem(response, 400)["detail"] == (
        "The body is not valid UTF-8 (JSON must be UTF-8)."
    )


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
async def test_json_in_another_encoding_is_refused(
    client: httpx.AsyncClient, encoding: str
) -> None:
    """json.loads accepts UTF-16 and UTF-32 bytes; JSON on the wire is UTF-8 (RFC 8259)."""
    raw = json.dumps({"template_source": "hi"}).encode(encoding)
    assert_problem(await send_raw(client, "PUT", "/v1/prompts/u16", raw), 400)
    assert (await client.get("/v1/prompts/u16")).status_code == 404


async def test_a_charset_other_than_utf8_is_415(client: httpx.AsyncClient) -> None:
    response = await client.put(
        "/v1/prompts/u16",
        content=json.dumps({"template_source": "hi"}).encode("utf-16"),
        headers={"Content-Type": "application/json; charset=utf-16"},
    )
    assert "utf-16" in assert_problem(response, 415)["detail"]
    utf8 = await client.put(
        "/v1/prompts/u8",
        content=b'\xef\xbb\xbf{"template_source": "hi"}',  # a UTF-8 byte order mark is fine
        headers={"Content-Type": "application/json; charset=UTF-8"},
    )
    assert utf8.status_code == 201, utf8.text


async def test_number_too_long_to_convert_is_400(client: httpx.AsyncClient) -> None:
    raw = b'{"template_source": "x", "model_defaults": {"n": ' + b"1" * 5000 + b"}}"
    problem = assert_problem(await send_raw(client, "PUT", "/v1/prompts/x", raw), 400)
    assert "number" in problem["detail"]


# --- 422 ---------------------------------------------------------------------------------------


async def test_unknown_field_is_named(client: httpx.AsyncClient) -> None:
    response = await client.put("/v1/prompts/x", json={"template_source": "hi", "templat": "typo"})
    problem = assert_problem(response, 422)
    assert slug(problem) == "validation"
    assert "templat" in problem["detail"]
    assert [e["loc"] for e in problem["errors"]] == [["body", "templat"]]
    assert problem["errors"][0]["type"] == "extra_forbidden"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"template_source": 5}, ["body", "template_source"]),
        ({"template_source": ["a"]}, ["body", "template_source"]),
        ({"template_source": "x", "set_active": "maybe"}, ["body", "set_active"]),
        ({"template_source": "x", "model_defaults": [1]}, ["body", "model_defaults"]),
        ({"messages": [{"role": "king", "content": "x"}]}, ["body", "messages", 0, "role"]),
        ({"messages": "hello"}, ["body", "messages"]),
        ({"template_source": "x", "description": "d" * 2001}, ["body", "description"]),
    ],
)
async def test_wrong_types_are_422(
    client: httpx.AsyncClient, body: dict[str, Any], loc: list[Any]
) -> None:
    problem = assert_problem(await client.put("/v1/prompts/x", json=body), 422)
    assert loc in [e["loc"] for e in problem["errors"]]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"description": "no content"},
        {"template_source": None, "messages": None},
        {"template_source": "x", "messages": [{"role": "user", "content": "y"}]},
    ],
    ids=["empty", "neither", "both-null", "both"],
)
async def test_exactly_one_kind_of_content(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    problem = assert_problem(await client.put("/v1/prompts/x", json=body), 422)
    assert "exactly one of template_source (text) or messages (chat)" in str(problem["errors"])


async def test_an_empty_body_is_an_empty_object_except_for_a_put(
    client: httpx.AsyncClient,
) -> None:
    """As the OpenAPI documents say: a body whose fields all have defaults is optional; a PUT
    replaces the resource, so it needs one (a bodiless PUT used to null a model's prices)."""
    for url in ("/v1/prompts/x", "/v1/models/openai/gpt-x"):
        problem = assert_problem(await send_raw(client, "PUT", url, b""), 422)
        assert problem["errors"][0] == {
            "loc": ["body"],
            "msg": "a JSON object is required",
            "type": "missing",
        }
    await put_text(client, "x", "hi")
    activated = await send_raw(client, "POST", "/v1/prompts/x/versions/1:activate", b"")
    assert activated.status_code == 200, activated.text
    null = await send_raw(client, "POST", "/v1/prompts/x/versions/1:activate", b"null")
    assert assert_problem(null, 422)["detail"] == "The body must be a JSON object."


@pytest.mark.parametrize(
    ("method", "url", "detail"),
    [
        (
            "PUT",
            "/v1/prompts/x",
            "The body is empty: give exactly one of template_source (text) or messages (chat).",
        ),
        ("POST", "/v1/executions:run", "The body is empty: prompt_name (required)."),
        ("POST", "/v1/projects", "The body is empty: name (required)."),
        ("PUT", "/v1/prompts/x/labels/prod", "The body is empty: version (required)."),
    ],
)
async def test_an_empty_body_says_what_is_missing(
    client: httpx.AsyncClient, method: str, url: str, detail: str
) -> None:
    for empty in (b"", b"{}"):
        assert assert_problem(await send_raw(client, method, url, empty), 422)["detail"] == detail


async def test_template_syntax_error_reports_the_line(client: httpx.AsyncClient) -> None:
    problem = assert_problem(
        await client.put("/v1/prompts/x", json={"template_source": "line1\n{{ oops"}), 422
    )
    assert slug(problem) == "template"
    assert "line 2" in problem["detail"]
    assert problem["errors"][0]["line"] == 2
    assert problem["errors"][0]["loc"] == ["body", "template_source"]

    chat = {
        "messages": [
            {"role": "system", "content": "fine {{ a }}"},
            {"role": "user", "content": "a\nb\n{% for x in y %}never closed"},
        ]
    }
    problem = assert_problem(await client.put("/v1/prompts/x", json=chat), 422)
    assert problem["errors"][0]["loc"] == ["body", "messages", "1", "content"]
    assert problem["errors"][0]["line"] == 3
    assert_problem(await client.get("/v1/prompts/x"), 404)


@pytest.mark.parametrize(
    "name",
    [
        "bad%20name",
        "a" * 300,
        "caf%C3%A9",
        "%E5%90%8D%E5%89%8D",
        "emoji%F0%9F%98%80",
        "_x",
        "-x",
    ],
)
async def test_invalid_prompt_name_in_path_is_422(client: httpx.AsyncClient, name: str) -> None:
    for method, url, body in [
        ("PUT", f"/v1/prompts/{name}", {"template_source": "x"}),
        ("GET", f"/v1/prompts/{name}", None),
        ("GET", f"/v1/prompts/{name}/versions", None),
    ]:
        problem = assert_problem(await client.request(method, url, json=body), 422)
        assert problem["errors"][0]["loc"] == ["path", "name"]
        assert len(problem["detail"]) < 200  # the name is echoed, truncated


async def test_invalid_label_in_path_is_422(client: httpx.AsyncClient) -> None:
    await put_text(client, "p", "x")
    for label in ("PROD", "a b", "l" * 65, "-x"):
        response = await client.put(f"/v1/prompts/p/labels/{label}", json={"version": 1})
        assert assert_problem(response, 422)["errors"][0]["loc"] == ["path", "label"]


async def test_invalid_cursor_is_422(client: httpx.AsyncClient) -> None:
    await put_text(client, "p", "x")
    for url, cursor in [
        ("/v1/prompts", "!!!not-base64"),
        ("/v1/prompts", encode_cursor(5)),  # prompt pages are keyed by name
        ("/v1/prompts/p/versions", encode_cursor("v2")),  # version pages by number
        ("/v1/prompts/p/versions", encode_cursor(True)),
        ("/v1/prompts/p/labels/history", "x" * 501),
    ]:
        problem = assert_problem(await client.get(url, params={"cursor": cursor}), 422)
        assert problem["errors"][0]["loc"] == ["query", "cursor"]


async def test_a_label_and_a_version_together_pin_each_other(client: httpx.AsyncClient) -> None:
    """Both query parameters are valid alone, so together they are too (the OpenAPI document
    cannot forbid the pair): the label must point at that version."""
    await put_text(client, "p", "x")
    assert (await client.put("/v1/prompts/p/labels/prod", json={"version": 1})).status_code == 200
    pinned = await client.get("/v1/prompts/p?label=prod&version=1")
    assert pinned.json()["resolved_by"] == "label:prod"
    problem = assert_problem(await client.get("/v1/prompts/p?label=prod&version=2"), 404)
    assert problem["detail"] == "Label 'prod' of prompt 'p' points at version 1, not 2."


async def test_bad_query_parameters_are_422(client: httpx.AsyncClient) -> None:
    await put_text(client, "p", "x")
    for params, loc in [
        ({"limit": "abc"}, ["query", "limit"]),
        ({"limit": "0"}, ["query", "limit"]),
        ({"limit": "201"}, ["query", "limit"]),
        ({"limit": "9" * 5000}, ["query", "limit"]),
        ({"mode": "sideways"}, ["query", "mode"]),
        ({"colour": "blue"}, ["query", "colour"]),
    ]:
        problem = assert_problem(await client.get("/v1/prompts", params=params), 422)
        assert [e["loc"] for e in problem["errors"]] == [loc]
    problem = assert_problem(await client.get("/v1/prompts/p/diff", params={"from": 1}), 422)
    assert ["query", "to"] in [e["loc"] for e in problem["errors"]]


async def test_render_with_missing_variables_names_them(client: httpx.AsyncClient) -> None:
    await put_text(client, "greet", "{{ greeting }}, {{ name }}!")
    problem = assert_problem(
        await client.post("/v1/prompts/greet:render", json={"variables": {}}), 422
    )
    assert slug(problem) == "missing-variables"
    assert problem["missing"] == ["greeting", "name"]
    assert "greeting" in problem["detail"]
    assert "name" in problem["detail"]
    assert [e["loc"] for e in problem["errors"]] == [
        ["body", "variables", "greeting"],
        ["body", "variables", "name"],
    ]
    partial = await client.post("/v1/prompts/greet:render", json={"variables": {"name": "Ada"}})
    assert assert_problem(partial, 422)["missing"] == ["greeting"]

    problem = assert_problem(
        await client.post("/v1/prompts/greet:render", json={"variables": [1]}), 422
    )
    assert problem["errors"][0]["loc"] == ["body", "variables"]


@pytest.mark.parametrize("raw", [b"[]", b'[{"template_source": "x"}]', b"null", b'"x"', b"42"])
async def test_non_object_json_body_is_422(client: httpx.AsyncClient, raw: bytes) -> None:
    problem = assert_problem(await send_raw(client, "PUT", "/v1/prompts/x", raw), 422)
    assert problem["detail"] == "The body must be a JSON object."
    assert problem["errors"][0]["loc"] == ["body"]


async def test_admin_bodies_are_validated(client: httpx.AsyncClient) -> None:
    for name in ("bad name", "", "n" * 101):
        problem = assert_problem(await client.post("/v1/projects", json={"name": name}), 422)
        assert problem["errors"][0]["loc"] == ["body", "name"]
    problem = assert_problem(
        await client.post(
            f"/v1/projects/{DEFAULT_PROJECT_ID}/keys", json={"name": "k", "scopes": ["root"]}
        ),
        422,
    )
    assert problem["errors"][0]["loc"] == ["body", "scopes", 0]
    problem = assert_problem(
        await client.post(
            f"/v1/projects/{DEFAULT_PROJECT_ID}/keys", json={"name": "k", "scopes": []}
        ),
        422,
    )
    assert problem["errors"][0]["loc"] == ["body", "scopes"]


async def test_numbers_beyond_the_integer_columns_are_422(client: httpx.AsyncClient) -> None:
    """Every integer of a request is bounded by what the database holds (version numbers are
    int4): a larger one is refused by request validation, naming the field, never by the
    database or with a 500."""
    await put_text(client, "p", "x")
    huge = 99999999999999999999
    run = {"prompt_name": "p", "variables": {}}
    cases = [
        (await client.get("/v1/prompts/p", params={"version": huge}), "Invalid query: version."),
        (await client.get("/v1/prompts/p", params={"version": 2**31}), "Invalid query: version."),
        (
            await client.post("/v1/prompts/p:render", json={"version": huge}),
            "Invalid body: version.",
        ),
        (
            await client.put("/v1/prompts/p/labels/prod", json={"version": huge}),
            "Invalid body: version.",
        ),
        (
            await client.get("/v1/prompts/p/diff", params={"from": 1, "to": huge}),
            "Invalid query: to.",
        ),
        (
            await client.post(
                "/v1/prompts:resolve", json={"prompts": [{"name": "p", "version": huge}]}
            ),
            "Invalid body: prompts.0.version.",
        ),
        (await client.get("/v1/executions", params={"version": huge}), "Invalid query: version."),
        (
            await client.post("/v1/executions:run", json={**run, "version": huge}),
            "Invalid body: version.",
        ),
        (
            await client.post("/v1/executions:run", json={**run, "params": {"seed": 2**64}}),
            "Invalid body: params.seed.",
        ),
        (
            await client.put("/v1/models/openai/x", json={"max_tokens": huge}),
            "Invalid body: max_tokens.",
        ),
        (
            await client.put("/v1/models/openai/x", json={"input_price_per_mtok": 10**7}),
            "Invalid body: input_price_per_mtok.",
        ),
    ]
    for response, detail in cases:
        assert assert_problem(response, 422)["detail"] == detail
    for path in (f"/v1/prompts/p/versions/{huge}", f"/v1/prompts/p/versions/{2**31}"):
        problem = assert_problem(await client.get(path), 422)
        assert problem["errors"][0]["loc"] == ["path", "number"]
        problem = assert_problem(await client.post(f"{path}:activate", json={}), 422)
        assert problem["detail"].startswith("Invalid version number")
    # forged cursors beyond the key's column (version numbers: int4, label events: int8)
    for path, cursor in (("versions", 2**31), ("labels/history", 2**63)):
        params = {"cursor": encode_cursor(cursor)}
        problem = assert_problem(await client.get(f"/v1/prompts/p/{path}", params=params), 422)
        assert problem["detail"] == "Invalid cursor."
    # more digits than Python converts: no such route
    assert_problem(await client.get("/v1/prompts/p/versions/" + "9" * 5000), 404)


# --- template injection --------------------------------------------------------------------------

INJECTIONS = [
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "template"),
    ("{{ ().__class__.__base__.__subclasses__() }}", "template"),
    ("{{ cycler.__init__.__globals__.os.popen('id').read() }}", "template"),
    ("{{ joiner.__init__.__globals__ }}", "template"),
    ("{{ lipsum.__globals__['os'].popen('id').read() }}", "template"),
    ("{{ namespace.__init__.__globals__ }}", "template"),
    ("{{ self._TemplateReference__context }}", "template"),
    ("{{ self.__init__.__globals__ }}", "template"),
    ("{{ '{0.__class__.__mro__}'.format(1) }}", "template"),
    ("{% set xs = [] %}{{ xs.append(1) }}{{ xs }}", "template"),
    (
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        "template",
    ),
    ("{{ range(10**9) | list }}", "template"),
    ("{{ 'a' * 1000000000 }}", "template"),
    ("{{ [0] * 1000000000 }}", "template"),
    ("{{ 9 ** 999999 }}", "template"),
    ("{{ 1 / 0 }}", "template"),
    # no Flask here: `config` is just a variable nobody passed
    ("{{ config }}", "missing-variables"),
    ("{{ config.__class__.__init__.__globals__ }}", "missing-variables"),
]
LEAKS = ("<class", "<module", "<function", "<built-in", "uid=", "os.popen", "Traceback", "/usr/")


@pytest.mark.parametrize(("template", "expected"), INJECTIONS, ids=[t for t, _ in INJECTIONS])
async def test_template_injection_is_never_rendered(
    client: httpx.AsyncClient, template: str, expected: str
) -> None:
    """A template that needs no variable renders the same every time: if the sandbox refuses
    it, it is refused at save (422, nothing stored). Any other is stored, and refused at
    render."""
    created = await client.put("/v1/prompts/evil", json={"template_source": template})
    refused_at_save = expected == "template" and template != "{{ 1 / 0 }}"
    if refused_at_save:
        problem = assert_problem(created, 422)
        assert slug(problem) == "template"
        assert "it is not saved" in problem["detail"]
        for leak in LEAKS:
            assert leak not in created.text
        # with a variable to depend on, it is stored, and refused when rendered
        template = "{{ unused }}" + template
        created = await client.put("/v1/prompts/evil", json={"template_source": template})
    assert created.status_code == 201, created.text  # it parses, so it is a valid version
    assert created.json()["version"]["template_source"] == template

    variables = {"unused": 1} if refused_at_save else {}
    response = await client.post("/v1/prompts/evil:render", json={"variables": variables})
    problem = assert_problem(response, 422)
    assert slug(problem) == expected
    assert problem["type"].endswith("/" + expected)
    for leak in LEAKS:
        assert leak not in response.text


async def test_config_variable_renders_only_what_the_caller_passed(
    client: httpx.AsyncClient,
) -> None:
    await put_text(client, "evil", "{{ config }}|{{ config.__class__ }}")
    response = await client.post("/v1/prompts/evil:render", json={"variables": {"config": "c"}})
    problem = assert_problem(response, 422)  # the attribute lookup is refused
    assert slug(problem) == "template"
    assert "<class" not in response.text

    await put_text(client, "evil", "{{ config }}")
    rendered = await client.post("/v1/prompts/evil:render", json={"variables": {"config": "c"}})
    assert rendered.status_code == 200
    assert rendered.json()["text"] == "c"


async def test_injection_through_variables_is_inert(client: httpx.AsyncClient) -> None:
    await put_text(client, "echo", "[{{ v }}]")
    payload = "{{ ''.__class__.__mro__ }}{% for x in range(10) %}{% endfor %}"
    response = await client.post("/v1/prompts/echo:render", json={"variables": {"v": payload}})
    assert response.status_code == 200
    assert response.json()["text"] == f"[{payload}]"  # variables are data, not templates


# --- unicode -------------------------------------------------------------------------------------


async def test_unicode_content_and_variables_round_trip(client: httpx.AsyncClient) -> None:
    hebrew = "\u05e2\u05d1\u05e8\u05d9\u05ea"  # RTL, between right-to-left marks
    template = f"مرحبا {{{{ name }}}} 👋 — naïve 日本語 \u200f{hebrew}\u200f e\u0301 \U0001f9ea"
    created = await put_text(client, "uni", template, description="描述 ✓", owner_team="équipe")
    assert created["version"]["template_source"] == template
    got = (await client.get("/v1/prompts/uni")).json()
    assert got["version"]["template_source"] == template
    assert got["description"] == "描述 ✓"
    assert got["owner_team"] == "équipe"

    name = "זאב 🦊 \u202eevil\u202c Ω"
    rendered = await client.post("/v1/prompts/uni:render", json={"variables": {"name": name}})
    assert rendered.status_code == 200, rendered.text
    assert rendered.json()["text"] == template.replace("{{ name }}", name)

    chat = {"messages": [{"role": "user", "content": "🙂 {{ q }} ✓"}]}
    assert (await client.put("/v1/prompts/unichat", json=chat)).status_code == 201
    rendered = await client.post("/v1/prompts/unichat:render", json={"variables": {"q": "ü"}})
    assert rendered.json()["messages"] == [{"role": "user", "content": "🙂 ü ✓"}]

    # an escaped surrogate pair is one valid character
    raw = b'{"template_source": "\\ud83d\\ude00 {{ x }}"}'
    escaped = await send_raw(client, "PUT", "/v1/prompts/pair", raw)
    assert escaped.status_code == 201, escaped.text
    assert escaped.json()["version"]["template_source"] == "😀 {{ x }}"


@pytest.mark.parametrize("name", ["café", "名前", "emoji😀", "\uff46\uff55\uff4c\uff4c", "٣"])
async def test_prompt_names_are_ascii(client: httpx.AsyncClient, name: str) -> None:
    response = await client.put(f"/v1/prompts/{name}", json={"template_source": "x"})
    assert assert_problem(response, 422)["errors"][0]["loc"] == ["path", "name"]
    registered = await client.post(
        "/v1/prompts:register", json={"prompts": [{"name": name, "template": "x"}]}
    )
    assert assert_problem(registered, 422)["errors"][0]["loc"][:3] == ["body", "prompts", 0]


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/v1/prompts/nul", {"template_source": "a\u0000b"}),
        ("/v1/prompts/nul", {"messages": [{"role": "user", "content": "a\u0000b"}]}),
        ("/v1/prompts/nul", {"template_source": "x", "description": "\u0000"}),
        ("/v1/prompts/nul", {"template_source": "x", "model_defaults": {"stop": ["\u0000"]}}),
        ("/v1/prompts/nul", {"template_source": "x", "model_defaults": {"k\u0000": 1}}),
    ],
    ids=["template", "chat", "description", "model-defaults-value", "model-defaults-key"],
)
async def test_nul_characters_cannot_be_stored(
    client: httpx.AsyncClient, url: str, body: dict[str, Any]
) -> None:
    """PostgreSQL text and jsonb cannot hold U+0000: refused at the edge with a 422 naming the
    value's place, nothing half-written."""
    problem = assert_problem(await client.put(url, json=body), 422)
    assert slug(problem) == "validation"
    (error,) = problem["errors"]
    assert error["type"] == "nul"
    assert error["loc"][0] == "body"
    assert error["loc"][1] in body
    assert "U+0000" in problem["detail"]
    assert_problem(await client.get(url), 404)


async def test_nul_characters_elsewhere(client: httpx.AsyncClient) -> None:
    await put_text(client, "p", "[{{ v }}]")
    await put_text(client, "p", "second")
    labelled = await client.put(
        "/v1/prompts/p/labels/prod", json={"version": 1, "reason": "\u0000"}
    )
    assert_problem(labelled, 422)
    assert (await client.get("/v1/prompts/p/labels")).json()["labels"] == []  # rolled back
    registered = await client.post(
        "/v1/prompts:register", json={"prompts": [{"name": "code", "template": "\u0000"}]}
    )
    assert_problem(registered, 422)
    assert_problem(await client.get("/v1/prompts", params={"search": "a\u0000"}), 422)
    assert_problem(await client.get("/v1/prompts", params={"cursor": encode_cursor("\u0000")}), 422)
    removed = await client.delete("/v1/prompts/p/labels/none", params={"reason": "\u0000"})
    assert assert_problem(removed, 422)["errors"][0]["loc"] == ["query", "reason"]  # first
    nul_path = await client.get("/v1/traces/a%00b")
    assert assert_problem(nul_path, 422)["errors"][0]["loc"] == ["path", "trace_id"]

    # variables are never stored: a NUL renders and comes back intact
    rendered = await client.post(
        "/v1/prompts/p:render", json={"variables": {"v": "a\u0000b"}, "version": 1}
    )
    assert rendered.status_code == 200, rendered.text
    assert rendered.json()["text"] == "[a\u0000b]"


async def test_a_data_error_of_our_own_code_is_a_logged_500(
    container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    """Request values PostgreSQL cannot hold are refused at the edge (above), so a DataError
    reaching the database layer is a bug of ours: a 500 with its cause logged, never a 422
    blaming the caller."""

    async def buggy(call: Call) -> Reply:
        async with call.app.db.connect() as q:
            await q.connection.execute("SELECT 1 / 0")  # a DataError (division by zero)
        return Reply({})

    async def provide() -> Container:
        return container

    function = HttpFunction("test", [Endpoint("GET", "/v1/buggy", buggy, "A bug", None)], provide)

    async def serve(request: Request) -> Response:
        return await function(request)

    app = Starlette(routes=[Route("/v1/buggy", serve)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        response = await http.get("/v1/buggy")
    problem = assert_problem(response, 500)
    assert "logged" in problem["detail"]
    (record,) = [r for r in caplog.records if r.name == "prompt_ledger.http"]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], psycopg.errors.DivisionByZero)


@pytest.mark.parametrize(
    ("url", "raw"),
    [
        ("/v1/prompts/p:render", b'{"variables": {"v": "\\ud800"}}'),
        ("/v1/prompts/p:render", b'{"variables": {"\\udfff": 1}}'),
        ("/v1/prompts/lone", b'{"template_source": "x", "model_defaults": {"a": "\\udc00"}}'),
        ("/v1/prompts/lone", b'{"template_source": "a\\ud800b"}'),
    ],
)
async def test_lone_surrogates_are_refused(client: httpx.AsyncClient, url: str, raw: bytes) -> None:
    """JSON can escape half a UTF-16 pair; such a string has no UTF-8 form to store or send."""
    await put_text(client, "p", "[{{ v }}]")
    method = "POST" if url.endswith(":render") else "PUT"
    problem = assert_problem(await send_raw(client, method, url, raw), 400)
    assert "surrogate" in problem["detail"]


async def test_nan_and_infinity_cannot_be_stored(client: httpx.AsyncClient) -> None:
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e999"):
        raw = b'{"template_source": "x", "model_defaults": {"temperature": ' + literal + b"}}"
        problem = assert_problem(await send_raw(client, "PUT", "/v1/prompts/nan", raw), 422)
        assert problem["errors"][0]["type"] == "finite_number"
        assert "must be finite" in problem["detail"]
    assert_problem(await client.get("/v1/prompts/nan"), 404)


# --- database gone -------------------------------------------------------------------------------


async def test_database_unavailable_is_503() -> None:
    settings = Settings(
        _env_file=None,
        database_url="postgresql://postgres@127.0.0.1:1/nope",
        api_key=DEFAULT_API_KEY,
        environment="test",
        db_connect_timeout=1,
    )
    container = Container(settings)
    await container.db.open()
    try:
        transport = httpx.ASGITransport(app=create_gateway(container))
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers={"X-API-Key": DEFAULT_API_KEY},
        ) as http:
            guard(http)
            for response in (
                await http.get("/v1/prompts/x"),
                await http.put("/v1/prompts/x", json={"template_source": "x"}),
                # a stored key needs the database to be checked: 503, not 401
                await http.get("/v1/prompts", headers={"X-API-Key": "pl_some-stored-key"}),
                await http.get("/health"),
            ):
                problem = assert_problem(response, 503)
                assert slug(problem) == "unavailable"
                assert int(response.headers["Retry-After"]) > 0
                assert "127.0.0.1" not in response.text  # no connection details leak
            # what needs no database still answers
            assert_problem(await http.get("/v1/nope"), 404)
            assert_problem(await send_without_key(http, "GET", "/v1/prompts"), 401)
            assert_problem(
                await http.put("/v1/prompts/x", json={"template_source": "{{ oops"}), 422
            )
    finally:
        await container.aclose()


async def test_a_database_not_migrated_is_503_saying_so(server_url: str) -> None:
    name = f"pl_empty_{uuid.uuid4().hex[:12]}"
    settings = Settings(
        _env_file=None,
        database_url=create_database(server_url, name),
        api_key=DEFAULT_API_KEY,
        environment="test",
    )
    container = Container(settings)
    await container.open()
    try:
        transport = httpx.ASGITransport(app=create_gateway(container))
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers={"X-API-Key": DEFAULT_API_KEY},
        ) as http:
            guard(http)
            problem = assert_problem(await http.get("/v1/prompts"), 503)
            assert "run `promptledger migrate`" in problem["detail"]
    finally:
        await container.aclose()
        drop_database(server_url, name)


async def test_a_pooled_connection_the_server_ended_is_replaced_not_an_error(
    database_url: str,
) -> None:
    """A connection idle in the pool while the server ended it (a restart, an administrator)
    has the server's farewell on its socket: the next checkout replaces it, no request fails."""
    db = Database(database_url, min_size=1, max_size=1)

    async def backend() -> int:
        async with db.connect() as q:
            row = await (await q.connection.execute("SELECT pg_backend_pid() AS pid")).fetchone()
            assert row is not None
            return int(row["pid"])

    try:
        first = await backend()
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
            # waits (up to 10 s) until that backend is gone, its farewell sent
            ended = await admin.execute("SELECT pg_terminate_backend(%s, 10000)", [first])
            assert await ended.fetchone() == (True,)
        second = await backend()
        assert second != first
        assert await backend() == second  # a live connection is kept
    finally:
        await db.close()
