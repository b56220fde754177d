"""Traces and analytics in a real browser: a trace sent through the API and joined by an
execution, found in the list, drawn as a waterfall and clicked through; charts drawn by uPlot
after a few executions; another project's trace refused; phone width in dark mode."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from tests.browser.conftest import Live, LiveFactory, sign_in
from tests.console.sample_traces import TRACE, TRACEPARENT, checkout_trace, seed_trace


def send_traces_and_run(live: Live) -> str:
    """The seeds' trace, an application's trace, and an execution joining it; its id."""
    for body in (seed_trace(), checkout_trace()):
        sent = live.api.post("/v1/traces", json=body)
        assert sent.status_code == 202, sent.text
    live.put_prompt("checkout_helper", "Suggest an item like {{item}}")
    ran = live.api.post(
        "/v1/executions:run",
        json={"prompt_name": "checkout_helper", "variables": {"item": "shoes"}},
        headers={"traceparent": TRACEPARENT},
    )
    assert ran.status_code == 200, ran.text
    return str(ran.json()["execution_id"])


def test_find_a_trace_open_its_waterfall_and_click_through(page: Page, live: Live) -> None:
    execution_id = send_traces_and_run(live)
    sign_in(page, live)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Traces").click()
    expect(page.get_by_role("heading", name="Traces", level=1)).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(2)

    page.get_by_label("Service").fill("shop")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"service=shop"))
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_role("link", name="POST /checkout").click()

    expect(page).to_have_url(re.compile(f"/traces/{TRACE}$"))
    expect(page.get_by_role("heading", name="POST /checkout", level=1)).to_be_visible()
    rows = page.locator("table.waterfall tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first.locator("td.name")).to_have_class(re.compile(r"depth-0"))
    expect(rows.nth(2).locator("td.name")).to_have_class(re.compile(r"depth-1"))
    bar = rows.first.locator("rect.bar")
    box = bar.bounding_box()
    track = rows.first.locator("svg.track").bounding_box()
    assert box is not None
    assert track is not None
    assert box["width"] > 0.95 * track["width"]  # the root lasts the whole trace
    expect(page.locator("rect.bar.error")).to_have_count(1)  # "charge card" failed

    page.get_by_role("link", name=f"execution {execution_id[:8]}").first.click()
    expect(page).to_have_url(re.compile(f"/executions/{execution_id}$"))
    page.get_by_role("link", name=TRACE, exact=True).click()
    expect(page).to_have_url(re.compile(f"/traces/{TRACE}$"))


def test_analytics_draw_charts_after_a_few_executions(page: Page, live: Live) -> None:
    live.put_prompt("greeting", "Hello {{name}}")
    live.put_prompt("greeting", "Hi {{name}}!")
    for version in (1, 2, 2):
        ran = live.api.post(
            "/v1/executions:run",
            json={"prompt_name": "greeting", "version": version, "variables": {"name": "A"}},
        )
        assert ran.status_code == 200, ran.text
    outside: list[str] = []

    def only_this_server(route: Route) -> None:
        if route.request.url.startswith(live.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    sign_in(page, live)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Analytics").click()
    expect(page.locator(".tile", has_text="Executions").locator("dd")).to_have_text("3")
    page.get_by_role("link", name="greeting").first.click()
    expect(page.get_by_role("heading", name="greeting", level=1)).to_be_visible()
    expect(page.locator("figure.chart canvas")).to_have_count(4)  # drawn by uPlot
    latency = page.locator("figure.chart", has_text="Latency percentiles")
    expect(latency.locator(".u-legend")).to_contain_text("p95")
    versions = page.locator("table.compare tbody tr")
    expect(versions).to_have_count(2)
    expect(versions.first).to_contain_text("v2")
    # the numbers are in a table too, opened from the keyboard
    summary = page.locator("figure.chart", has_text="Executions").locator("summary")
    summary.focus()
    page.keyboard.press("Enter")
    expect(page.locator("figure.chart details[open] tbody tr").first).to_be_visible()
    page.get_by_label("Window", exact=True).select_option("24h")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"window=24h"))
    expect(page.locator("figure.chart canvas")).to_have_count(4)
    assert outside == []


def test_another_projects_trace_is_not_found(page: Page, live: Live) -> None:
    send_traces_and_run(live)
    _, _, key = live.make_key(["prompts:read"], project="elsewhere")
    sign_in(page, live, key)
    page.goto(f"{live.url}/traces/{TRACE}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("404")
    page.goto(f"{live.url}/traces")
    expect(page.get_by_role("heading", name="No traces yet")).to_be_visible()


@pytest.fixture
def phone(browser: Browser, live_factory: LiveFactory) -> Iterator[BrowserContext]:
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844}, color_scheme="dark", has_touch=True
    )
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


def test_trace_and_analytics_pages_fit_a_phone(phone: BrowserContext, live: Live) -> None:
    send_traces_and_run(live)
    page = phone.new_page()
    sign_in(page, live)
    for path in ("/traces", f"/traces/{TRACE}", "/analytics", "/analytics/prompts/checkout_helper"):
        page.goto(live.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than the phone"
    expect(page.locator("figure.chart canvas")).to_have_count(4)
