"""Auth, CSRF and cross-project isolation, through the browser."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import Live, other_origin, sign_in

FORGED = """<!doctype html><title>evil</title>
<form id="f" method="post" action="{url}/prompts/greeting/labels">
  <input name="label" value="production"><input name="version" value="1">
  <input name="reason" value="forged">
</form>
<button id="go" onclick="document.getElementById('f').submit()">go</button>"""


def labels(live: Live) -> list[str]:
    found = live.api.get("/v1/prompts/greeting/labels").json()["labels"]
    return [label["label"] for label in found]


def test_a_form_posted_from_another_site_changes_nothing(page: Page, live: Live) -> None:
    live.put_prompt("greeting", "Hello")
    sign_in(page, live)
    with other_origin(FORGED.format(url=live.url)) as evil:
        for origin in (evil.url, evil.url.replace("127.0.0.1", "localhost")):
            page.goto(origin)
            page.click("#go")
            page.wait_for_load_state()
            # same site (another port): the cookie goes along, the CSRF token is missing;
            # another site: SameSite=Lax keeps the cookie home, so there is no session at all
            expect(page.locator("main")).to_contain_text(
                re.compile("CSRF check failed|Your session has ended")
            )
    assert labels(live) == []
    page.goto(f"{live.url}/prompts")  # and the session is still there
    expect(page.get_by_role("heading", name="Prompts")).to_be_visible()


def test_a_tampered_token_is_refused(page: Page, live: Live) -> None:
    live.put_prompt("greeting", "Hello")
    sign_in(page, live)
    page.goto(f"{live.url}/prompts/greeting")
    page.eval_on_selector_all(
        "input[name=csrf]", "inputs => inputs.forEach(input => input.value = 'tampered')"
    )
    page.get_by_label("Reason").fill("sneaky")
    page.get_by_role("button", name="Move label").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("403")
    assert labels(live) == []


def test_pages_need_a_session_and_sign_out_ends_it(page: Page, live: Live) -> None:
    page.goto(f"{live.url}/executions")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fexecutions$"))
    page.get_by_label("API key").fill("dev-key-change-in-production")
    page.get_by_label("API key").press("Enter")
    expect(page).to_have_url(re.compile(r"/executions$"))  # back where it was going
    cookies = page.context.cookies()
    session = next(c for c in cookies if c["name"] == "pl_session")
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""  # invisible to scripts
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    page.goto(f"{live.url}/prompts")
    expect(page).to_have_url(re.compile(r"/sign-in"))


def test_another_project_sees_nothing_of_this_one(page: Page, live: Live) -> None:
    live.put_prompt("secret_prompt", "Classified")
    ran = live.api.post("/v1/executions:run", json={"prompt_name": "secret_prompt"})
    execution_id = ran.json()["execution_id"]
    project_id, _, admin = live.make_key(["admin"], project="other")
    sign_in(page, live, admin)
    expect(page.get_by_role("heading", name="No prompts yet")).to_be_visible()
    for path in (
        "/prompts/secret_prompt",
        f"/executions/{execution_id}",
        "/admin/projects/00000000-0000-0000-0000-000000000001",
    ):
        response = page.goto(live.url + path)
        assert response is not None
        assert response.status == 404, path
        expect(page.get_by_role("heading", level=1)).to_contain_text("404")
    page.goto(f"{live.url}/executions")
    expect(page.get_by_role("heading", name="No executions yet")).to_be_visible()
    page.get_by_role("link", name="Admin").click()
    expect(page).to_have_url(re.compile(rf"/admin/projects/{project_id}$"))
    expect(page.get_by_role("heading", name="other: API keys")).to_be_visible()
