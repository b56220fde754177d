"""Browser fixtures: one Chromium for the whole package (launching is the slow part), a fresh
context per test, and a live gateway per test on its own database.

The Playwright sync API runs its own event loop only inside its calls, so these tests are
plain functions; the gateway runs in a thread (tests/live_gateway.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from starlette.applications import Starlette

from prompt_ledger.gateway import create_gateway
from tests.browser.chromium import running_chromium
from tests.conftest import DEV_KEY
from tests.live_gateway import LiveServer, demo_settings

DEFAULT_PROJECT = "00000000-0000-0000-0000-000000000001"
HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test``), one worker runs this package: one Chromium."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Closed within tests/browser/chromium.py's CLOSE_WITHIN, or killed and failed."""
    try:
        with running_chromium() as chromium:
            yield chromium
    except RuntimeError as exc:
        pytest.fail(str(exc))


@dataclass
class Live:
    """A live gateway and its API, authenticated with the operator key."""

    url: str
    api: httpx.Client
    database_url: str

    def put_prompt(self, name: str, template: str, **extra: Any) -> dict[str, Any]:
        answer = self.api.put(f"/v1/prompts/{name}", json={"template_source": template, **extra})
        assert answer.status_code in (200, 201), answer.text
        body: dict[str, Any] = answer.json()
        return body

    def make_key(self, scopes: list[str], project: str | None = None) -> tuple[str, str, str]:
        """(project id, key id, secret) of a new key, in a new project when named."""
        project_id = DEFAULT_PROJECT
        if project is not None:
            created = self.api.post("/v1/projects", json={"name": project})
            assert created.status_code == 201, created.text
            project_id = created.json()["project_id"]
        key = self.api.post(
            f"/v1/projects/{project_id}/keys", json={"name": "browser", "scopes": scopes}
        )
        assert key.status_code == 201, key.text
        return project_id, key.json()["key_id"], key.json()["key"]


LiveFactory = Callable[..., Live]


@pytest.fixture
def live_factory(database_url: str) -> Iterator[LiveFactory]:
    """Start the gateway (settings overridable: cors_origins=..., with_worker=...)."""
    stack = ExitStack()  # every server stops, and each client closes first, even if one fails

    def start(*, with_worker: bool = False, **settings: Any) -> Live:
        config = demo_settings(database_url).model_copy(update=settings)
        gateway = create_gateway(settings=config, with_worker=with_worker)
        server = stack.enter_context(LiveServer(gateway))
        api = stack.enter_context(
            httpx.Client(base_url=server.url, headers={"X-API-Key": DEV_KEY}, timeout=10)
        )
        seeded = api.put(
            "/v1/models/openai/gpt-4o-mini",
            json={"input_price_per_mtok": 0.15, "output_price_per_mtok": 0.6},
        )
        assert seeded.status_code in (200, 201), seeded.text
        return Live(server.url, api, database_url)

    with stack:
        yield start


@pytest.fixture
def live(live_factory: LiveFactory) -> Live:
    return live_factory()


@pytest.fixture
def context(browser: Browser, live_factory: LiveFactory) -> Iterator[BrowserContext]:
    """Closed before the live gateways stop (they wait for the browser's open connections)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def sign_in(page: Page, live: Live, key: str = DEV_KEY) -> None:
    """Sign in with the keyboard alone: the key field has focus, Enter submits."""
    page.goto(f"{live.url}/sign-in")
    # Autofocus lands after the page is parsed; keys typed before that are lost (seen under load).
    expect(page.get_by_label("API key")).to_be_focused()
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/prompts$"))


def other_origin(html: str) -> LiveServer:
    """Another origin (its own port) serving one page, for cross-origin requests."""
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    async def home(_: Any) -> HTMLResponse:
        return HTMLResponse(html)

    return LiveServer(Starlette(routes=[Route("/", home)]))
