"""The front door and the assets: / for browsers and API clients, /docs, static files."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import httpx
import pytest

from prompt_ledger.functions import API
from tests.console.conftest import Visitor, VisitorFactory


async def test_the_root_is_the_console_for_browsers(visitors: VisitorFactory) -> None:
    async with visitors() as anonymous:
        root = await anonymous.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
        assert root.status_code == 303
        assert root.headers["location"] == "/sign-in"


async def test_signed_in_the_root_opens_the_prompts(visitor: Visitor) -> None:
    root = await visitor.get("/")
    assert root.headers["location"] == "/prompts"


@pytest.mark.parametrize("accept", ["application/json", "*/*", ""])
async def test_the_root_is_a_json_index_for_api_clients(
    client: httpx.AsyncClient, accept: str
) -> None:
    index = await client.get("/", headers={"Accept": accept})
    assert index.status_code == 200
    assert index.headers["content-type"] == "application/json"
    body = index.json()
    assert body["links"]["docs"] == "/docs"
    assert body["links"]["console"] == "/"
    assert set(body["functions"]) == set(API)
    assert "POST /v1/executions:run" in body["functions"]["executions"]


async def test_console_pages_are_not_in_the_api_documents(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "/v1/prompts" in paths
    assert not [
        path
        for path in paths
        # /api/v1/...: the seeds' paths of the trace API
        if not path.startswith(("/v1/", "/api/v1/", "/health", "/livez", "/metrics", "/openapi"))
    ]


async def test_docs_render_every_functions_document_from_vendored_files(
    visitors: VisitorFactory,
) -> None:
    async with visitors() as anonymous:  # public, like /openapi.json
        page = await anonymous.get("/docs?function=executions")
        assert page.status_code == 200
        assert 'data-url="/docs/openapi/executions.json"' in page.text
        for name in API:
            assert f'href="/docs?function={name}"' in page.text
        assert "/static/vendor/swagger-ui/swagger-ui-bundle.js?v=" in page.text
        assert "https://" not in page.text.replace("https://promptledger.dev", "")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp

        document = await anonymous.get("/docs/openapi/executions.json")
        assert document.status_code == 200
        assert "/v1/executions:run" in document.json()["paths"]
        assert document.json()["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
        assert (await anonymous.get("/docs/openapi/nothing.json")).status_code == 404


async def test_static_files_are_compressed_and_cached_for_good(
    visitors: VisitorFactory,
) -> None:
    async with visitors() as anonymous:
        page = await anonymous.get("/sign-in")
        assert "/static/console.css?v=" in page.text
        css = await anonymous.http.get("/static/console.css", headers={"Accept-Encoding": "gzip"})
        assert css.status_code == 200
        assert css.headers["content-type"] == "text/css; charset=utf-8"
        assert css.headers["content-encoding"] == "gzip"
        assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "prefers-color-scheme: dark" in css.text  # httpx decompressed it
        plain = await anonymous.http.get(
            "/static/vendor/htmx/htmx.min.js", headers={"Accept-Encoding": "identity"}
        )
        assert "content-encoding" not in plain.headers
        assert plain.headers["content-type"] == "text/javascript; charset=utf-8"
        for path in ("/static/../web.py", "/static/.hidden", "/static/missing.js", "/static/"):
            assert (await anonymous.http.get(path)).status_code == 404, path


def test_the_vendored_files_are_the_recorded_ones() -> None:
    """infra/vendor_assets.py records what it took; the committed files must still be those."""

    vendor = resources.files("prompt_ledger.console").joinpath("static", "vendor")
    record = json.loads(vendor.joinpath("VENDORED.json").read_text())
    assert {entry["package"] for entry in record} == {"htmx.org", "uplot", "swagger-ui-dist"}
    for entry in record:
        assert entry["license"] in {"0BSD", "MIT", "Apache-2.0"}
        for name, meta in entry["files"].items():
            data = vendor.joinpath(entry["folder"], name).read_bytes()
            assert hashlib.sha256(data).hexdigest() == meta["sha256"], name
            assert b"sourceMappingURL" not in data[-300:], name
