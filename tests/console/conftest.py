"""Console fixtures over raw HTTP: a visitor (cookies kept, CSRF tokens read from the pages)
of the in-process gateway, and the API client of the same gateway to set the scene."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from prompt_ledger.container import Container
from prompt_ledger.gateway import create_gateway
from prompt_ledger.settings import Settings
from tests.conftest import DEV_KEY
from tests.live_gateway import demo_settings

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Visitor:
    """A browser's HTTP behaviour without a browser: a cookie jar, forms posted urlencoded,
    the CSRF token taken from the last page seen."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.csrf = ""

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.http.get(path, **kwargs)
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    async def post(self, path: str, data: dict[str, Any], *, csrf: bool = True) -> httpx.Response:
        form = {"csrf": self.csrf, **data} if csrf else data
        return await self.http.post(path, data=form)

    async def sign_in(self, key: str, next_path: str = "") -> httpx.Response:
        await self.get("/sign-in")
        response = await self.post("/sign-in", {"api_key": key, "next": next_path})
        await self.get("/prompts")  # the session's CSRF token
        return response


VisitorFactory = Callable[[], AbstractAsyncContextManager[Visitor]]


@pytest.fixture
def visitors(container: Container) -> VisitorFactory:
    """Fresh visitors (separate cookie jars) of one in-process gateway."""
    app = create_gateway(container)

    @asynccontextmanager
    async def visitor() -> AsyncIterator[Visitor]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers={"Accept": "text/html"}
        ) as http:
            yield Visitor(http)

    return visitor


@pytest.fixture
async def visitor(visitors: VisitorFactory) -> AsyncIterator[Visitor]:
    """A visitor signed in with the bootstrap (operator) key."""
    async with visitors() as new:
        signed = await new.sign_in(DEV_KEY)
        assert signed.status_code == 303, signed.text
        yield new


async def make_key(api: httpx.AsyncClient, project: str, scopes: list[str]) -> tuple[str, str]:
    """A new project (or the default one, for ``project="default"``) and a key of it: (project
    id, secret)."""
    if project == "default":
        project_id = "00000000-0000-0000-0000-000000000001"
    else:
        created = await api.post("/v1/projects", json={"name": project})
        assert created.status_code == 201, created.text
        project_id = created.json()["project_id"]
    key = await api.post(
        f"/v1/projects/{project_id}/keys", json={"name": f"{project}-key", "scopes": scopes}
    )
    assert key.status_code == 201, key.text
    return project_id, key.json()["key"]


async def put_prompt(
    api: httpx.AsyncClient, name: str, template: str, **extra: Any
) -> dict[str, Any]:
    response = await api.put(f"/v1/prompts/{name}", json={"template_source": template, **extra})
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def seed_model(api: httpx.AsyncClient) -> None:
    response = await api.put(
        "/v1/models/openai/gpt-4o-mini",
        json={"input_price_per_mtok": 0.15, "output_price_per_mtok": 0.6},
    )
    assert response.status_code in (200, 201), response.text


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The demo provider answers runs; no real provider is configured."""
    return demo_settings(database_url)
