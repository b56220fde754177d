"""The console's main journeys in a real browser (Chromium), against a live gateway."""

from __future__ import annotations

import re

import psycopg
from playwright.sync_api import Page, expect

from tests.browser.conftest import Live, LiveFactory, other_origin, sign_in


def test_sign_in_then_find_a_prompt_created_through_the_api(page: Page, live: Live) -> None:
    page.goto(live.url)  # what `make dev` prints
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    page.get_by_label("API key").fill("pl_wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")

    sign_in(page, live)
    expect(page.get_by_role("heading", name="No prompts yet")).to_be_visible()

    live.put_prompt("doc_summarizer", "Summarize:\n{{text}}", owner_team="AI-Platform")
    live.put_prompt("support_reply", "Reply to {{ticket}}", owner_team="support")
    page.reload()
    page.get_by_label("Search names").fill("summ")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"search=summ"))
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    page.get_by_role("link", name="doc_summarizer").click()
    expect(page.get_by_role("heading", name="doc_summarizer", level=1)).to_be_visible()
    expect(page.get_by_text("AI-Platform")).to_be_visible()


def test_diff_two_versions(page: Page, live: Live) -> None:
    live.put_prompt("greeting", "Hello {{name}}\nSee you")
    live.put_prompt("greeting", "Hello there {{name}}\nSee you")
    live.put_prompt("greeting", "Hi {{name}}")
    sign_in(page, live)
    page.goto(f"{live.url}/prompts/greeting")
    page.get_by_role("link", name="Diff", exact=True).click()
    page.get_by_label("From", exact=True).select_option("v1")
    page.get_by_label("To", exact=True).select_option("v2")
    page.get_by_role("button", name="Compare").click()
    expect(page).to_have_url(re.compile(r"from=1&to=2"))
    changed = page.locator("table.diff tr.replace")
    expect(changed).to_have_count(1)
    expect(changed.locator("td.r mark")).to_have_text(" there")
    expect(page.locator("table.diff tr.equal td.r")).to_have_text("See you")


def test_move_a_label_see_the_history_and_roll_back(page: Page, live: Live) -> None:
    live.put_prompt("greeting", "Hello {{name}}")
    live.put_prompt("greeting", "Hi {{name}}")
    sign_in(page, live)
    page.goto(f"{live.url}/prompts/greeting")

    def move(version: str, reason: str) -> None:
        mover = page.locator("details", has_text="Move a label")
        if mover.get_attribute("open") is None:
            mover.locator("summary").click()
        page.get_by_label("Label", exact=True).select_option("production")
        page.get_by_label("Version").fill(version)
        page.get_by_label("Reason").fill(reason)
        page.get_by_role("button", name="Move label").click()
        expect(page.get_by_role("status")).to_contain_text("production")

    move("1", "first release")
    move("2", "launch v2")
    history = page.locator("#history + .scroll tbody tr")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("v1 → v2")
    expect(history.first).to_contain_text("launch v2")
    expect(history.first).to_contain_text("console: operator")

    history.first.get_by_label("Reason for rolling production back to v1").fill("v2 is rude")
    history.first.get_by_role("button", name="Roll back to v1").click()
    expect(history).to_have_count(3)
    expect(history.first).to_contain_text("v2 → v1")
    expect(history.first).to_contain_text("v2 is rude")
    labels = live.api.get("/v1/prompts/greeting/labels").json()["labels"]
    assert [(label["label"], label["version_number"]) for label in labels] == [("production", 1)]


def test_run_a_prompt_and_open_the_execution(page: Page, live: Live) -> None:
    live.put_prompt("greeting", "Hello {{name}}, welcome to {{place}}")
    sign_in(page, live)
    page.goto(f"{live.url}/prompts/greeting/playground")
    page.get_by_label("name", exact=True).fill("Ada")
    page.get_by_label("place", exact=True).fill("the <lab>")

    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#rendered")).to_have_text("Hello Ada, welcome to the <lab>")

    page.get_by_role("button", name="Run").click()
    result = page.locator("#run-result")
    expect(result).to_contain_text("succeeded")
    expect(result).to_contain_text("demo")
    expect(page).to_have_url(re.compile(r"/playground$"))  # htmx: the page stayed
    result.get_by_role("link", name="Open the execution").click()
    expect(page).to_have_url(re.compile(r"/executions/[0-9a-f-]{36}$"))
    expect(page.locator("#rendered-prompt")).to_have_text("Hello Ada, welcome to the <lab>")
    expect(page.locator("#response")).to_contain_text("Hello Ada")
    expect(page.get_by_text("$0.150000 in · $0.600000 out")).to_be_visible()
    expect(page.get_by_role("cell", name="llm.completion")).to_be_visible()
    page.get_by_role("link", name="greeting v1").click()
    expect(page.get_by_role("heading", name="Version 1")).to_be_visible()


def test_queued_executions_update_live(page: Page, live: Live) -> None:
    live.put_prompt("greeting", "Hello")
    queued = live.api.post("/v1/executions:submit", json={"prompt_name": "greeting"})
    execution_id = queued.json()["execution_id"]  # no worker in this gateway: it stays queued
    sign_in(page, live)
    page.goto(f"{live.url}/executions/{execution_id}")
    badge = page.locator(".subtitle .badge").first
    expect(badge).to_have_text("queued")
    with psycopg.connect(live.database_url, autocommit=True) as db:  # as a worker would
        db.execute(
            "UPDATE executions SET status = 'succeeded', response_text = 'all done', "
            "completed_at = now() WHERE execution_id = %s",
            (execution_id,),
        )
    # htmx polls the status; a finished execution reloads its page with the result
    expect(page.locator("#response")).to_have_text("all done", timeout=10_000)
    expect(badge).to_have_text("succeeded")


def test_revoking_the_key_ends_the_browser_session(page: Page, live: Live) -> None:
    project_id, key_id, secret = live.make_key(["prompts:read"])
    sign_in(page, live, secret)
    expect(page.get_by_text("browser")).to_be_visible()  # the key's name, top right
    revoked = live.api.delete(f"/v1/projects/{project_id}/keys/{key_id}")
    assert revoked.status_code == 200
    page.get_by_role("link", name="Executions").click()
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fexecutions&ended=revoked$"))
    expect(page.get_by_role("status")).to_contain_text("was revoked")


def test_keys_are_created_shown_once_and_revoked_in_the_browser(page: Page, live: Live) -> None:
    sign_in(page, live)
    page.get_by_role("link", name="Admin").click()
    page.get_by_label("New project name").fill("team-a")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="team-a: API keys")).to_be_visible()
    page.get_by_label("Name").fill("ci")
    page.get_by_label("admin").check()
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#secret").inner_text()
    assert secret.startswith("pl_")
    assert live.api.get("/v1/prompts", headers={"X-API-Key": secret}).status_code == 200
    page.get_by_role("link", name="Back to the project's keys").click()
    expect(page.get_by_text(secret)).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke key ci").click()
    expect(page.get_by_text("revoked")).to_be_visible()
    assert live.api.get("/v1/prompts", headers={"X-API-Key": secret}).status_code == 401


def test_the_key_s_scopes_decide_which_buttons_exist(page: Page, live: Live) -> None:
    live.put_prompt("greeting", "Hello {{name}}")
    _, _, reader = live.make_key(["prompts:read"])
    sign_in(page, live, reader)
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    page.goto(f"{live.url}/prompts/greeting")
    expect(page.get_by_text("Move a label")).to_have_count(0)
    page.goto(f"{live.url}/prompts/greeting/playground")
    expect(page.get_by_role("button", name="Preview")).to_be_visible()
    expect(page.get_by_role("button", name="Run")).to_have_count(0)


def test_a_cors_preflight_from_another_origin(live_factory: LiveFactory, page: Page) -> None:
    script = """async ([url, key]) => {
        try {
            const answer = await fetch(url + "/v1/prompts", {
                headers: {"X-API-Key": key, "Idempotency-Key": "k1", "traceparent":
                          "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}});
            return answer.status + " " + answer.headers.get("server-timing").slice(0, 4);
        } catch (error) { return "blocked: " + error.message; }
    }"""
    with other_origin("<!doctype html><title>app</title><p>another origin</p>") as app:
        live = live_factory(cors_origins=app.url)
        live.put_prompt("greeting", "Hello")
        page.goto(app.url)
        assert page.evaluate(script, [live.url, "dev-key-change-in-production"]) == "200 app;"
        other = app.url.replace("127.0.0.1", "localhost")  # another origin, not allowed
        page.goto(other)
        assert page.evaluate(script, [live.url, "dev-key-change-in-production"]).startswith(
            "blocked"
        )
