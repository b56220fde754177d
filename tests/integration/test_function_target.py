"""functions/main.py, loaded by path through functions-framework's own loader, serves requests."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from functions_framework import aio
from starlette.types import ASGIApp

from tests.conftest import DEV_KEY


def create_asgi_app(target: str, source: str) -> ASGIApp:
    """functions-framework's own loader (untyped upstream)."""
    app: ASGIApp = aio.create_asgi_app(target=target, source=source)  # type: ignore[no-untyped-call]
    return app


SOURCE = Path(__file__).resolve().parents[2] / "functions" / "main.py"


async def test_registry_target_serves_the_seed_calls(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("API_KEY", DEV_KEY)
    app = create_asgi_app(target="registry", source=str(SOURCE))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://fn", headers={"X-API-Key": DEV_KEY}
    ) as http:
        assert (await http.get("/health")).status_code == 200
        created = await http.put(
            "/v1/prompts/doc_summarizer", json={"template_source": "Summarize:\n{{text}}"}
        )
        assert created.status_code == 201, created.text
        assert (await http.get("/v1/prompts/doc_summarizer")).json()["version"]["variables"] == [
            "text"
        ]
        missing = await http.get("/v1/nothing")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        spec = (await http.get("/openapi.json")).json()
        assert "/v1/prompts/{name}" in spec["paths"]


def test_production_refuses_the_default_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("API_KEY", DEV_KEY)
    with pytest.raises(Exception, match="default development key"):
        create_asgi_app(target="registry", source=str(SOURCE))


async def test_console_target_serves_the_console_on_its_own(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("API_KEY", DEV_KEY)
    monkeypatch.setenv("CORS_ORIGINS", "https://app.example.com")
    app = create_asgi_app(target="console", source=str(SOURCE))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://fn", headers={"Accept": "text/html"}
    ) as http:
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/")).headers["location"] == "/sign-in"
        form = await http.get("/sign-in")
        nonce = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        signed = await http.post("/sign-in", data={"csrf": nonce, "api_key": DEV_KEY})
        assert signed.status_code == 303
        page = await http.get("/prompts")
        assert page.status_code == 200
        assert "No prompts yet" in page.text
        assert (await http.get("/docs")).status_code == 200
        assert (await http.get("/static/console.css")).status_code == 200
        preflight = await http.options(
            "/prompts",
            headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
        )
        assert preflight.status_code == 204
        # the API's endpoints are other functions' (reached through the deploy's one URL)
        assert (await http.get("/v1/prompts")).status_code == 404
