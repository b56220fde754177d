"""The registry through the gateway: the seeds' calls, versions, labels, tracking, render."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

SEED_BODY: dict[str, Any] = {
    "description": "Summarize documents",
    "owner_team": "AI-Platform",
    "template_source": "Summarize:\n{{text}}",
    "created_by": "martin",
    "set_active": True,
}


async def put(client: httpx.AsyncClient, name: str, template: str, **extra: Any) -> dict[str, Any]:
    response = await client.put(f"/v1/prompts/{name}", json={"template_source": template, **extra})
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def test_seed_curl_examples(client: httpx.AsyncClient) -> None:
    created = await client.put(
        "/v1/prompts/doc_summarizer", json=SEED_BODY, headers={"Content-Type": "application/json"}
    )
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "doc_summarizer"
    assert body["owner_team"] == "AI-Platform"
    assert body["version"]["version_number"] == 1
    assert body["version"]["status"] == "active"
    assert body["version"]["variables"] == ["text"]
    assert body["version"]["created_by"] == "martin"
    assert body["active_version_id"] == body["version"]["version_id"]

    got = await client.get("/v1/prompts/doc_summarizer")
    assert got.status_code == 200
    assert got.json()["version"]["template_source"] == "Summarize:\n{{text}}"
    assert got.json()["resolved_by"] == "active"

    versions = await client.get("/v1/prompts/doc_summarizer/versions")
    assert versions.status_code == 200
    assert [v["version_number"] for v in versions.json()["items"]] == [1]


async def test_identical_content_is_deduplicated_and_changes_make_new_versions(
    client: httpx.AsyncClient,
) -> None:
    first = await put(client, "p", "Hello {{name}}")
    again = await client.put("/v1/prompts/p", json={"template_source": "Hello {{name}}"})
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["version"]["version_id"] == first["version"]["version_id"]

    second = await put(client, "p", "Hi {{name}}!")
    assert second["created"] is True
    assert second["version"]["version_number"] == 2
    assert second["version"]["checksum_hash"] != first["version"]["checksum_hash"]
    assert (await client.get("/v1/prompts/p")).json()["version"]["version_number"] == 2

    # Same template with different default model config is different content.
    third = await put(client, "p", "Hi {{name}}!", model_defaults={"model_name": "gpt-4o-mini"})
    assert third["version"]["version_number"] == 3


async def test_set_active_false_keeps_the_active_version(client: httpx.AsyncClient) -> None:
    await put(client, "p", "v1")
    draft = await put(client, "p", "v2", set_active=False)
    assert draft["version"]["status"] == "draft"
    current = (await client.get("/v1/prompts/p")).json()
    assert current["version"]["version_number"] == 1
    by_number = (await client.get("/v1/prompts/p?version=2")).json()
    assert by_number["version"]["template_source"] == "v2"
    assert by_number["resolved_by"] == "version:2"
    assert current["resolved_by"] == "active"


async def test_chat_prompts(client: httpx.AsyncClient) -> None:
    messages = [
        {"role": "system", "content": "You are {{persona}}."},
        {"role": "user", "content": "Summarize: {{text}}"},
    ]
    response = await client.put("/v1/prompts/chat", json={"messages": messages})
    assert response.status_code == 201, response.text
    version = response.json()["version"]
    assert version["kind"] == "chat"
    assert version["variables"] == ["persona", "text"]
    rendered = await client.post(
        "/v1/prompts/chat:render", json={"variables": {"persona": "terse", "text": "x"}}
    )
    assert rendered.status_code == 200
    assert rendered.json()["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Summarize: x"},
    ]


async def test_list_filter_search_and_paginate(client: httpx.AsyncClient) -> None:
    for i in range(5):
        await put(client, f"alpha_{i}", "t", owner_team="red" if i % 2 else "blue")
    await put(client, "beta", "t", owner_team="red")
    await client.post(
        "/v1/prompts:register", json={"prompts": [{"name": "code_p", "template": "x"}]}
    )

    names: list[str] = []
    cursor = None
    for _page in range(20):  # a cursor that never ends fails, not hangs
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/prompts", params=params)).json()
        names += [p["name"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    else:
        pytest.fail("still a next_cursor after 20 pages")
    assert names == ["alpha_0", "alpha_1", "alpha_2", "alpha_3", "alpha_4", "beta", "code_p"]

    red = (await client.get("/v1/prompts", params={"owner_team": "red"})).json()["items"]
    assert [p["name"] for p in red] == ["alpha_1", "alpha_3", "beta"]
    found = (await client.get("/v1/prompts", params={"search": "LPHA_3"})).json()["items"]
    assert [p["name"] for p in found] == ["alpha_3"]
    tracking = (await client.get("/v1/prompts", params={"mode": "tracking"})).json()["items"]
    assert [p["name"] for p in tracking] == ["code_p"]

    await client.put("/v1/prompts/beta/labels/production", json={"version": 1})
    labelled = (await client.get("/v1/prompts", params={"label": "production"})).json()["items"]
    assert [(p["name"], p["labels"]) for p in labelled] == [("beta", {"production": 1})]


async def test_versions_paginate_newest_first(client: httpx.AsyncClient) -> None:
    for i in range(5):
        await put(client, "p", f"v{i + 1}")
    first = (await client.get("/v1/prompts/p/versions", params={"limit": 3})).json()
    assert [v["version_number"] for v in first["items"]] == [5, 4, 3]
    rest = (
        await client.get(
            "/v1/prompts/p/versions", params={"limit": 3, "cursor": first["next_cursor"]}
        )
    ).json()
    assert [v["version_number"] for v in rest["items"]] == [2, 1]
    assert rest["next_cursor"] is None
    one = await client.get("/v1/prompts/p/versions/2")
    assert one.json()["template_source"] == "v2"


async def test_labels_resolve_move_history_and_remove(client: httpx.AsyncClient) -> None:
    await put(client, "p", "one")
    await put(client, "p", "two")
    moved = await client.put(
        "/v1/prompts/p/labels/production",
        json={"version": 1, "reason": "first release", "actor": "ana"},
    )
    assert moved.status_code == 200
    assert [(x["label"], x["version_number"]) for x in moved.json()["labels"]] == [
        ("production", 1)
    ]

    by_label = (await client.get("/v1/prompts/p", params={"label": "production"})).json()
    assert by_label["version"]["template_source"] == "one"
    assert by_label["resolved_by"] == "label:production"

    await client.put("/v1/prompts/p/labels/production", json={"version": 2, "actor": "bo"})
    await client.put("/v1/prompts/p/labels/production", json={"version": 2})  # no-op: no event
    await client.put("/v1/prompts/p/labels/staging", json={"version": 2})
    removed = await client.delete("/v1/prompts/p/labels/staging")
    assert removed.status_code == 204

    history = (await client.get("/v1/prompts/p/labels/history")).json()["items"]
    assert [(h["label"], h["from_version"], h["to_version"]) for h in history] == [
        ("staging", 2, None),
        ("staging", None, 2),
        ("production", 1, 2),
        ("production", None, 1),
    ]
    assert history[-1]["reason"] == "first release"
    assert history[-1]["actor"] == "ana"
    only = (await client.get("/v1/prompts/p/labels/history", params={"label": "production"})).json()
    assert len(only["items"]) == 2
    labels = (await client.get("/v1/prompts/p/labels")).json()["labels"]
    assert [(x["label"], x["version_number"]) for x in labels] == [("production", 2)]


async def test_rollback_by_activating_an_older_version(client: httpx.AsyncClient) -> None:
    await put(client, "p", "one")
    await put(client, "p", "two")
    rolled = await client.post("/v1/prompts/p/versions/1:activate", json={"reason": "bad v2"})
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["version"]["version_number"] == 1
    statuses = {
        v["version_number"]: v["status"]
        for v in (await client.get("/v1/prompts/p/versions")).json()["items"]
    }
    assert statuses == {1: "active", 2: "draft"}


async def test_archive_rules(client: httpx.AsyncClient) -> None:
    await put(client, "p", "one")
    await put(client, "p", "two")
    archived = await client.post("/v1/prompts/p/versions/1:archive")
    assert archived.status_code == 200
    assert archived.json()["status"] == "archived"
    assert (await client.post("/v1/prompts/p/versions/1:activate")).status_code == 409
    assert (await client.put("/v1/prompts/p/labels/prod", json={"version": 1})).status_code == 409
    assert (await client.post("/v1/prompts/p/versions/2:archive")).status_code == 409  # active
    # Re-submitting archived content does not silently re-activate it.
    again = await client.put("/v1/prompts/p", json={"template_source": "one"})
    assert again.status_code == 409


async def test_diff(client: httpx.AsyncClient) -> None:
    await put(client, "p", "line a\nline b\n", model_defaults={"temperature": 0.2})
    await put(client, "p", "line a\nline c\n", model_defaults={"temperature": 0.7})
    diff = (await client.get("/v1/prompts/p/diff", params={"from": 1, "to": 2})).json()
    assert "-line b" in diff["template_diff"]
    assert "+line c" in diff["template_diff"]
    assert diff["model_defaults_diff"] == (
        '--- v1\n+++ v2\n@@ -1,3 +1,3 @@\n {\n-  "temperature": 0.2\n+  "temperature": 0.7\n }\n'
    )  # the defaults as indented JSON, one key a line, each side ending in a newline
    assert diff["identical"] is False
    same = (await client.get("/v1/prompts/p/diff", params={"from": 2, "to": 2})).json()
    assert same["identical"] is True
    assert same["template_diff"] == ""


async def test_tracking_mode_registration(client: httpx.AsyncClient) -> None:
    prompts = [
        {
            "name": "USER_SUMMARY",
            "template": "Summarize user {{user_id}} activity in the last {{days}} days.",
        },
        {"name": "ERROR_MESSAGE", "template": "Error: {{error}} occurred in {{context}}."},
    ]
    first = await client.post("/v1/prompts:register", json={"prompts": prompts})
    assert first.status_code == 200, first.text
    assert [(p["name"], p["version_number"], p["changed"]) for p in first.json()["prompts"]] == [
        ("USER_SUMMARY", 1, True),
        ("ERROR_MESSAGE", 1, True),
    ]

    same = await client.post("/v1/prompts:register", json={"prompts": prompts})
    assert [p["changed"] for p in same.json()["prompts"]] == [False, False]

    prompts[1]["template"] = "Error: {{error}} in {{context}}!"
    changed = await client.post("/v1/prompts:register", json={"prompts": prompts})
    assert [(p["version_number"], p["changed"]) for p in changed.json()["prompts"]] == [
        (1, False),
        (2, True),
    ]
    active = (await client.get("/v1/prompts/ERROR_MESSAGE")).json()
    assert active["mode"] == "tracking"
    assert active["version"]["version_number"] == 2

    refused = await client.put("/v1/prompts/ERROR_MESSAGE", json={"template_source": "edited"})
    assert refused.status_code == 409
    assert "tracking mode" in refused.json()["detail"]
    # Promotion stays possible: labels are deployment, not content.
    assert (
        await client.put("/v1/prompts/ERROR_MESSAGE/labels/production", json={"version": 2})
    ).status_code == 200


async def test_register_refuses_to_take_over_a_managed_prompt(client: httpx.AsyncClient) -> None:
    await put(client, "managed", "x")
    refused = await client.post(
        "/v1/prompts:register", json={"prompts": [{"name": "managed", "template": "y"}]}
    )
    assert refused.status_code == 409
    assert (await client.get("/v1/prompts/managed")).json()["mode"] == "full"


async def test_render_preview_uses_the_sandboxed_renderer(client: httpx.AsyncClient) -> None:
    await put(client, "p", "Hello {{ name | upper }}, {{ items | join(', ') }}")
    rendered = await client.post(
        "/v1/prompts/p:render", json={"variables": {"name": "zoë", "items": ["a", "b"]}}
    )
    assert rendered.status_code == 200
    assert rendered.json()["text"] == "Hello ZOË, a, b"
    missing = await client.post("/v1/prompts/p:render", json={"variables": {"name": "x"}})
    assert missing.status_code == 422
    assert missing.json()["missing"] == ["items"]


async def test_conditional_get_answers_304(client: httpx.AsyncClient) -> None:
    await put(client, "p", "x")
    first = await client.get("/v1/prompts/p")
    etag = first.headers["ETag"]
    cached = await client.get("/v1/prompts/p", headers={"If-None-Match": etag})
    assert cached.status_code == 304
    await put(client, "p", "y")
    fresh = await client.get("/v1/prompts/p", headers={"If-None-Match": etag})
    assert fresh.status_code == 200


async def test_models_list_upsert_and_seed(client: httpx.AsyncClient) -> None:
    created = await client.put(
        "/v1/models/ollama/llama3.1:8b",
        json={"max_tokens": 8192, "input_price_per_mtok": 0, "output_price_per_mtok": 0},
    )
    assert created.status_code == 201, created.text
    updated = await client.put(
        "/v1/models/ollama/llama3.1:8b", json={"max_tokens": 4096, "input_price_per_mtok": 0.5}
    )
    assert updated.status_code == 200
    assert updated.json()["max_tokens"] == 4096
    other = await client.put("/v1/models/openai/gpt-listed-apart", json={"max_tokens": 1000})
    assert other.status_code == 201, other.text  # another provider's: filtered out below
    listed = (await client.get("/v1/models", params={"provider": "ollama"})).json()["items"]
    assert [(m["model_name"], m["input_price_per_mtok"]) for m in listed] == [
        ("llama3.1:8b", "0.500000")
    ]


async def test_projects_and_keys(client: httpx.AsyncClient) -> None:
    project = await client.post("/v1/projects", json={"name": "acme"})
    assert project.status_code == 201
    pid = project.json()["project_id"]
    created = await client.post(
        f"/v1/projects/{pid}/keys", json={"name": "ci", "scopes": ["prompts:read"]}
    )
    assert created.status_code == 201
    secret = created.json()["key"]
    assert secret.startswith("pl_")
    keys = (await client.get(f"/v1/projects/{pid}/keys")).json()["items"]
    assert [k["name"] for k in keys] == ["ci"]
    assert "key" not in keys[0]
    assert secret not in (await client.get(f"/v1/projects/{pid}/keys")).text
    names = [p["name"] for p in (await client.get("/v1/projects")).json()["items"]]
    assert names == ["acme", "default"]

    reader = {"X-API-Key": secret}
    assert (await client.get("/v1/prompts", headers=reader)).status_code == 200
    assert (
        await client.put("/v1/prompts/x", json={"template_source": "y"}, headers=reader)
    ).status_code == 403
    revoked = await client.delete(f"/v1/projects/{pid}/keys/{created.json()['key_id']}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert (await client.get("/v1/prompts", headers=reader)).status_code == 401


async def test_projects_are_isolated(
    client: httpx.AsyncClient, other_project_client: httpx.AsyncClient
) -> None:
    await put(client, "shared_name", "default project's")
    assert (await other_project_client.get("/v1/prompts/shared_name")).status_code == 404
    assert (await other_project_client.get("/v1/prompts")).json()["items"] == []
    mine = await other_project_client.put(
        "/v1/prompts/shared_name", json={"template_source": "other project's"}
    )
    assert mine.status_code == 201
    assert mine.json()["version"]["version_number"] == 1
    theirs = (await client.get("/v1/prompts/shared_name")).json()
    assert theirs["version"]["template_source"] == "default project's"


async def test_health_and_openapi(client: httpx.AsyncClient) -> None:
    health = await client.get("/health", headers={"X-API-Key": ""})
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"] == "3.1.0"
    assert "put" in spec["paths"]["/v1/prompts/{name}"]
    body_ref = spec["paths"]["/v1/prompts/{name}"]["put"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["$ref"]
    name = body_ref.rsplit("/", 1)[-1]
    assert "template_source" in spec["components"]["schemas"][name]["properties"]


async def test_batch_resolve(client: httpx.AsyncClient) -> None:
    await put(client, "a", "A {{x}}")
    await put(client, "b", "B1")
    await put(client, "b", "B2")
    await client.put("/v1/prompts/b/labels/production", json={"version": 1})
    response = await client.post(
        "/v1/prompts:resolve",
        json={
            "prompts": [
                {"name": "a"},
                {"name": "b", "label": "production"},
                {"name": "missing"},
                {"name": "b", "version": 9},
            ]
        },
    )
    assert response.status_code == 200, response.text
    got = response.json()["prompts"]
    assert got[0]["version"]["template_source"] == "A {{x}}"
    assert got[1]["version"]["template_source"] == "B1"
    assert got[2] == {"name": "missing", "status": 404, "detail": "Prompt 'missing' not found."}
    assert got[3]["status"] == 404


async def test_diff_without_final_newlines(client: httpx.AsyncClient) -> None:
    await put(client, "p", "Hello!")
    await put(client, "p", "Hi!")
    diff = (await client.get("/v1/prompts/p/diff", params={"from": 1, "to": 2})).json()
    assert "-Hello!\n" in diff["template_diff"]
    assert "+Hi!\n" in diff["template_diff"]
