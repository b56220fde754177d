"""The console's pages over raw HTTP: what each shows, what its forms do, and what a key's
scopes and project allow."""

from __future__ import annotations

import re

import httpx

from tests.console.conftest import Visitor, VisitorFactory, make_key, put_prompt, seed_model


async def test_empty_states_say_what_to_do_next(visitor: Visitor) -> None:
    prompts = await visitor.get("/prompts")
    assert prompts.status_code == 200
    assert "No prompts yet" in prompts.text
    assert 'curl -X PUT "http://testserver/v1/prompts/doc_summarizer"' in prompts.text
    assert "promptledger prompts push" in prompts.text

    executions = await visitor.get("/executions")
    assert "No executions yet" in executions.text
    assert "/v1/executions:run" in executions.text


async def test_the_prompt_list_filters_by_search_owner_label_and_mode(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    await put_prompt(client, "support_reply", "Reply to {{ticket}}", owner_team="support")
    await put_prompt(client, "doc_summarizer", "Summarize {{text}}", owner_team="ai-platform")
    await client.put("/v1/prompts/doc_summarizer/labels/production", json={"version": 1})
    await client.put("/v1/prompts/support_reply/labels/canary", json={"version": 1})
    await client.put("/v1/prompts/doc_summarizer/labels/canary", json={"version": 1})
    registered = await client.post(
        "/v1/prompts:register", json={"prompts": [{"name": "code_hint", "template": "Hint"}]}
    )
    assert registered.status_code == 200

    def names(page: httpx.Response) -> list[str]:
        return re.findall(r'<a href="/prompts/([^"/]+)">', page.text)

    assert names(await visitor.get("/prompts")) == ["code_hint", "doc_summarizer", "support_reply"]
    assert names(await visitor.get("/prompts?search=SUMM")) == ["doc_summarizer"]
    assert names(await visitor.get("/prompts?owner_team=support")) == ["support_reply"]
    assert names(await visitor.get("/prompts?label=production")) == ["doc_summarizer"]
    assert names(await visitor.get("/prompts?mode=tracking")) == ["code_hint"]
    none = await visitor.get("/prompts?search=nothing-like-this")
    assert names(none) == []
    assert "No prompt matches these filters" in none.text
    # empty form fields are no filter at all; the choices come from the project's prompts
    everything = await visitor.get("/prompts?search=&owner_team=&label=&mode=")
    assert len(names(everything)) == 3

    def options(select: str) -> list[str]:
        found = re.search(rf'<select id="{select}".*?</select>', everything.text, re.S)
        assert found is not None
        return re.findall(r"<option>([^<]+)</option>", found.group(0))

    # each name once, in order (read a step of the index at a time)
    assert options("f-owner") == ["ai-platform", "support"]
    assert options("f-label") == ["canary", "production"]


async def test_the_prompt_list_pages_with_a_cursor(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    for i in range(3):
        await put_prompt(client, f"p{i}", "x")
    first = await visitor.get("/prompts?limit=2")
    assert ">p0</a>" in first.text
    assert ">p2</a>" not in first.text
    following = re.search(r'href="(/prompts\?limit=2&amp;cursor=[^"]+)"', first.text)
    assert following is not None
    second = await visitor.get(following.group(1).replace("&amp;", "&"))
    assert ">p2</a>" in second.text
    assert ">p0</a>" not in second.text


async def test_a_bad_filter_is_a_page_naming_it(visitor: Visitor) -> None:
    page = await visitor.get("/prompts?mode=sideways")
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "query.mode" in page.text


async def test_the_prompt_page_shows_versions_labels_and_history(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    await put_prompt(client, "greeting", "Hello {{name}}", owner_team="growth")
    await put_prompt(client, "greeting", "Hi {{name}}!", commit_message="shorter")
    moved = await visitor.post(
        "/prompts/greeting/labels", {"label": "production", "version": "1", "reason": "stable"}
    )
    assert moved.status_code == 303
    assert moved.headers["location"] == "/prompts/greeting?moved=production#labels"
    moved = await visitor.post(
        "/prompts/greeting/labels", {"label": "production", "version": "2", "reason": "launch"}
    )
    page = await visitor.get("/prompts/greeting?moved=production")
    assert page.status_code == 200
    assert "Label <strong>production</strong> moved" in page.text
    assert "shorter" in page.text  # commit message of v2
    history = page.text[page.text.index('id="history"') : page.text.index('id="versions"')]
    assert history.index("launch") < history.index("stable")  # newest first
    assert "<td>v1 → v2</td>" in history
    assert "console: operator" in history
    # the newest move of a label can be rolled back (to v1), with a reason
    assert "Roll back to v1" in history
    rolled = await visitor.post(
        "/prompts/greeting/labels",
        {"label": "production", "version": "1", "reason": "v2 regressed"},
    )
    assert rolled.status_code == 303
    labels = (await client.get("/v1/prompts/greeting/labels")).json()["labels"]
    assert [(label["label"], label["version_number"]) for label in labels] == [("production", 1)]
    events = (await client.get("/v1/prompts/greeting/labels/history")).json()["items"]
    assert events[0]["reason"] == "v2 regressed"
    assert events[0]["actor"] == "console: operator"


async def test_moving_a_label_needs_a_reason_and_a_valid_name(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    await put_prompt(client, "greeting", "Hello {{name}}")
    no_reason = await visitor.post(
        "/prompts/greeting/labels", {"label": "production", "version": "1", "reason": " "}
    )
    assert no_reason.status_code == 422
    assert "form.reason" in no_reason.text
    bad_label = await visitor.post(
        "/prompts/greeting/labels",
        {"label": "production", "label_new": "Not A Label", "version": "1", "reason": "x"},
    )
    assert bad_label.status_code == 422
    assert "form.label" in bad_label.text
    nul = await visitor.post(
        "/prompts/greeting/labels", {"label": "production", "version": "1", "reason": "a\x00b"}
    )
    assert nul.status_code == 422  # refused before the database (which stores no NUL)
    assert "form.reason" in nul.text
    missing = await visitor.post(
        "/prompts/greeting/labels", {"label": "production", "version": "9", "reason": "x"}
    )
    assert missing.status_code == 404
    assert "has no version 9" in missing.text


async def test_activating_an_older_version_rolls_the_prompt_back(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    await put_prompt(client, "greeting", "Hello {{name}}")
    await put_prompt(client, "greeting", "Hi {{name}}")
    activated = await visitor.post("/prompts/greeting/versions/1/activate", {})
    assert activated.status_code == 303
    assert (await client.get("/v1/prompts/greeting")).json()["active_version_number"] == 1


async def test_the_diff_is_side_by_side_with_the_changes_marked(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    await put_prompt(client, "greeting", "Hello {{name}}\nBye", model_defaults={"temperature": 0})
    await put_prompt(
        client, "greeting", "Hello there {{name}}\nBye", model_defaults={"temperature": 1}
    )
    latest = await visitor.get("/prompts/greeting/diff")  # the two newest by default
    assert latest.status_code == 200
    assert '<tr class="replace">' in latest.text
    assert "<mark> there</mark>" in latest.text
    assert "Model defaults" in latest.text
    same = await visitor.get("/prompts/greeting/diff?from=2&to=2")
    assert "identical content" in same.text
    missing = await visitor.get("/prompts/greeting/diff?from=1&to=7")
    assert missing.status_code == 404


async def test_the_playground_previews_and_runs_then_links_the_execution(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    await seed_model(client)
    await put_prompt(client, "greeting", "Hello {{name}}, welcome to {{place}}")
    page = await visitor.get("/prompts/greeting/playground")
    assert 'name="var.name"' in page.text
    assert 'name="var.place"' in page.text
    assert "<option selected>openai/gpt-4o-mini</option>" in page.text

    form = {"version": "1", "var.name": "Ada", "var.place": "<Lab>", "model": "openai/gpt-4o-mini"}
    preview = await visitor.post("/prompts/greeting/render", form)
    assert preview.status_code == 200
    assert "Hello Ada, welcome to &lt;Lab&gt;" in preview.text  # escaped, never raw HTML

    fragment = await visitor.http.post(
        "/prompts/greeting/run",
        data={**form, "csrf": visitor.csrf, "max_tokens": "50"},
        headers={"HX-Request": "true"},
    )
    assert fragment.status_code == 200
    assert "<html" not in fragment.text  # htmx gets the result alone
    assert "succeeded" in fragment.text
    assert "demo" in fragment.text
    execution_id = re.search(r'href="/executions/([0-9a-f-]{36})"', fragment.text)
    assert execution_id is not None
    recorded = await client.get(f"/v1/executions/{execution_id.group(1)}")
    assert recorded.json()["variables"] == {"name": "Ada", "place": "<Lab>"}
    assert recorded.json()["params"] == {"max_tokens": 50}

    missing = await visitor.post("/prompts/greeting/render", {"version": "1", "var.name": "Ada"})
    assert missing.status_code == 422
    assert "place" in missing.text


async def test_json_values_in_the_playground(visitor: Visitor, client: httpx.AsyncClient) -> None:
    await put_prompt(client, "items", "{% for i in items %}[{{ i }}]{% endfor %}")
    form = {"version": "1", "var.items": '["a", "b"]', "json_values": "on"}
    preview = await visitor.post("/prompts/items/render", form)
    assert "[a][b]" in preview.text
    bad = await visitor.post("/prompts/items/render", {**form, "var.items": "[oops"})
    assert bad.status_code == 422
    assert "not valid JSON" in bad.text


async def test_the_execution_list_filters_and_the_page_shows_everything(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    await seed_model(client)
    await put_prompt(client, "greeting", "Hello {{name}}")
    await put_prompt(client, "other", "Other")
    ran = await client.post(
        "/v1/executions:run",
        json={
            "prompt_name": "greeting",
            "variables": {"name": "Ada"},
            "params": {"temperature": 0.3},
        },
        headers={"X-Correlation-ID": "req-42"},
    )
    assert ran.status_code == 200, ran.text
    execution = ran.json()
    await client.post("/v1/executions:run", json={"prompt_name": "other"})

    listed = await visitor.get("/executions?prompt_name=greeting")
    assert listed.text.count('class="mono" href="/executions/') == 1
    assert execution["execution_id"][:8] in listed.text
    by_correlation = await visitor.get("/executions?correlation_id=req-42&status=succeeded")
    assert by_correlation.text.count('class="mono" href="/executions/') == 1
    assert "No execution matches" in (await visitor.get("/executions?status=failed")).text

    page = await visitor.get(f"/executions/{execution['execution_id']}")
    assert page.status_code == 200
    for shown in (
        "Hello Ada",  # rendered prompt
        "&#34;name&#34;: &#34;Ada&#34;",  # variables (escaped JSON)
        "&#34;temperature&#34;: 0.3",  # params
        "openai/gpt-4o-mini",
        "$0.150000 in · $0.600000 out",  # price snapshot
        "req-42",
        execution["trace_id"],
        "llm.completion",  # its span
        '/prompts/greeting/versions/1"',  # link to its version
    ):
        assert shown in page.text, shown
    assert (await visitor.get("/executions/not-a-uuid")).status_code == 404


async def test_unfinished_executions_poll_their_status(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    await seed_model(client)
    await put_prompt(client, "greeting", "Hello")
    queued = await client.post("/v1/executions:submit", json={"prompt_name": "greeting"})
    assert queued.status_code == 202
    execution_id = queued.json()["execution_id"]  # no worker runs here: it stays queued

    listed = await visitor.get("/executions")
    assert f'hx-get="/executions/{execution_id}/status"' in listed.text
    assert 'hx-trigger="every 2s"' in listed.text
    page = await visitor.get(f"/executions/{execution_id}")
    assert f'hx-get="/executions/{execution_id}/status?page=1"' in page.text

    badge = await visitor.get(f"/executions/{execution_id}/status?page=1")
    assert "queued" in badge.text
    assert "hx-refresh" not in badge.headers
    cancelled = await client.post(f"/v1/executions/{execution_id}:cancel")
    assert cancelled.status_code == 200
    done = await visitor.get(f"/executions/{execution_id}/status?page=1")
    assert "cancelled" in done.text
    assert "hx-get" not in done.text  # polling stops
    assert done.headers["hx-refresh"] == "true"  # the execution's page reloads with the result


async def test_a_read_only_key_sees_no_buttons_and_cannot_post(
    visitors: VisitorFactory, client: httpx.AsyncClient
) -> None:
    await put_prompt(client, "greeting", "Hello {{name}}")
    _, key = await make_key(client, "default", ["prompts:read"])
    async with visitors() as reader:
        await reader.sign_in(key)
        page = await reader.get("/prompts/greeting")
        assert page.status_code == 200
        assert "Move a label" not in page.text
        assert "Make active" not in page.text
        nav = await reader.get("/prompts")
        assert 'href="/admin"' not in nav.text
        playground = await reader.get("/prompts/greeting/playground")
        assert "Preview" in playground.text
        assert "/run" not in playground.text
        refused = await reader.post(
            "/prompts/greeting/labels", {"label": "production", "version": "1", "reason": "x"}
        )
        assert refused.status_code == 403
        assert "labels:promote" in refused.text
        assert (await reader.get("/admin/projects")).status_code == 403
        run = await reader.post("/prompts/greeting/run", {"version": "1", "var.name": "x"})
        assert run.status_code == 403


async def test_projects_never_see_each_other(
    visitors: VisitorFactory, client: httpx.AsyncClient
) -> None:
    await seed_model(client)
    await put_prompt(client, "secret_prompt", "Classified {{x}}")
    ran = await client.post(
        "/v1/executions:run", json={"prompt_name": "secret_prompt", "variables": {"x": "1"}}
    )
    execution_id = ran.json()["execution_id"]
    default_id = "00000000-0000-0000-0000-000000000001"
    other_id, other_admin = await make_key(client, "other", ["admin"])

    async with visitors() as other:
        await other.sign_in(other_admin)
        assert "secret_prompt" not in (await other.get("/prompts")).text
        assert "No prompts yet" in (await other.get("/prompts")).text
        for path in (
            "/prompts/secret_prompt",
            "/prompts/secret_prompt/diff?from=1&to=1",
            "/prompts/secret_prompt/playground",
            f"/executions/{execution_id}",
            f"/executions/{execution_id}/status",
            f"/admin/projects/{default_id}",
        ):
            assert (await other.get(path)).status_code == 404, path
        assert "secret_prompt" not in (await other.get("/executions")).text
        for path, form in (
            ("/prompts/secret_prompt/labels", {"label": "dev", "version": "1", "reason": "x"}),
            ("/prompts/secret_prompt/render", {"version": "1", "var.x": "1"}),
            (f"/admin/projects/{default_id}/keys", {"name": "stolen"}),
        ):
            assert (await other.post(path, form)).status_code == 404, path
        # its own admin page works, and lists only its own keys
        own = await other.get("/admin")
        assert own.headers["location"] == f"/admin/projects/{other_id}"
        keys = await other.get(own.headers["location"])
        assert "other-key" in keys.text
        assert (await other.get("/admin/projects")).status_code == 403
    assert (await client.get("/v1/prompts/secret_prompt/labels")).json()["labels"] == []


async def test_keys_are_created_shown_once_and_revoked(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    created = await visitor.post("/admin/projects", {"name": "team-a"})
    assert created.status_code == 303
    project_page = created.headers["location"]
    page = await visitor.get(project_page)
    assert "team-a: API keys" in page.text
    assert "No API keys yet" in page.text

    made = await visitor.post(
        project_page + "/keys", {"name": "ci", "scopes": ["prompts:read", "execute"]}
    )
    assert made.status_code == 201
    assert made.headers["cache-control"] == "no-store"
    secret = re.search(r'id="secret">(pl_[^<]+)<', made.text)
    assert secret is not None
    assert "only time it is shown" in made.text
    listed = await visitor.get(project_page)
    assert secret.group(1) not in listed.text  # never shown again
    assert secret.group(1)[:10] in listed.text  # its prefix is
    works = await client.get("/v1/prompts", headers={"X-API-Key": secret.group(1)})
    assert works.status_code == 200

    key_id = re.search(r'action="(/admin/projects/[^"]+/keys/[^"]+/revoke)"', listed.text)
    assert key_id is not None
    revoked = await visitor.post(key_id.group(1), {})
    assert revoked.status_code == 303
    assert "revoked" in (await visitor.get(project_page)).text
    refused = await client.get("/v1/prompts", headers={"X-API-Key": secret.group(1)})
    assert refused.status_code == 401

    bad = await visitor.post(project_page + "/keys", {"name": "x", "scopes": ["root"]})
    assert bad.status_code == 422
