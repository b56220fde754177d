"""Phone width, keyboard, dark mode, and /docs working offline with "try it"."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from tests.browser.conftest import Live, LiveFactory, sign_in


@pytest.fixture
def phone(browser: Browser, live_factory: LiveFactory) -> Iterator[BrowserContext]:
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844}, color_scheme="dark", has_touch=True
    )
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


def test_pages_fit_a_phone_in_dark_mode(phone: BrowserContext, live: Live) -> None:
    live.put_prompt(
        "a_rather_long_prompt_name_for_a_small_screen", "Hello {{name}}\n" * 3, owner_team="team"
    )
    live.put_prompt("a_rather_long_prompt_name_for_a_small_screen", "Hi {{name}}\n" * 3)
    ran = live.api.post(
        "/v1/executions:run",
        json={
            "prompt_name": "a_rather_long_prompt_name_for_a_small_screen",
            "variables": {"name": "A"},
        },
    )
    page = phone.new_page()
    sign_in(page, live)
    name = "/prompts/a_rather_long_prompt_name_for_a_small_screen"
    for path in (
        "/prompts",
        name,
        name + "/diff",
        name + "/playground",
        "/executions",
        "/executions/" + ran.json()["execution_id"],
        "/admin",
    ):
        page.goto(live.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than the phone"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    red, green, blue = (int(c) for c in re.findall(r"\d+", background)[:3])
    assert red + green + blue < 150, background  # dark


def test_light_mode_is_light(page: Page, live: Live) -> None:
    sign_in(page, live)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert sum(int(c) for c in re.findall(r"\d+", background)[:3]) > 600, background


def test_the_console_works_from_the_keyboard(page: Page, live: Live) -> None:
    live.put_prompt("greeting", "Hello {{name}}")
    sign_in(page, live)  # typed, then Enter
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")  # first control of the page: the search field
    expect(page.get_by_label("Search names")).to_be_focused()
    page.keyboard.type("greet")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"search=greet"))
    link = page.get_by_role("link", name="greeting")
    link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="greeting", level=1)).to_be_visible()
    outline = page.evaluate(
        "(() => { const a = document.querySelector('.tabs a'); a.focus();"
        " return getComputedStyle(a).outlineStyle; })()"
    )
    assert outline == "solid"  # a visible focus ring


def test_docs_work_offline_and_try_it_uses_the_key(page: Page, live: Live) -> None:
    live.put_prompt("greeting", "Hello")
    outside: list[str] = []

    def only_this_server(route: Route) -> None:
        if route.request.url.startswith(live.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto(f"{live.url}/docs")
    operation = page.locator("#operations-registry-get_list_prompts")
    expect(operation).to_be_visible()
    page.locator("button.authorize").first.click()
    page.locator(".auth-container input").first.fill("dev-key-change-in-production")
    page.locator(".auth-container button.authorize").first.click()
    page.locator("button.btn-done").first.click()
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status").first
    expect(status).to_have_text("200")
    expect(operation.locator(".live-responses-table")).to_contain_text("greeting")
    page.get_by_role("link", name="executions").click()
    expect(page.locator("#operations-executions-post_run")).to_be_visible()
    assert outside == []
