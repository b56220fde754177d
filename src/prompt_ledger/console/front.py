"""The front door: ``/`` (the console for browsers; API clients get the JSON index of
:mod:`prompt_ledger.handlers.home`) and ``/docs`` (the OpenAPI documents of every function in
Swagger UI, with "try it" using an API key)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from prompt_ledger.console.web import SESSION_COOKIE, Visit, endpoint, html, redirect
from prompt_ledger.errors import NotFound
from prompt_ledger.http.endpoint import Call, Endpoint, Reply
from prompt_ledger.http.openapi import openapi_document
from prompt_ledger.services.sessions import SessionEnded

Catalogue = Mapping[str, Sequence[Endpoint]]


async def _visitor(call: Call) -> Visit | None:
    try:
        session = await call.app.sessions.resume(call.request.cookies.get(SESSION_COOKIE, ""))
    except SessionEnded:
        return None
    return Visit(call, session)


def endpoints(api: Catalogue) -> list[Endpoint]:
    documents: dict[str, dict[str, Any]] = {}  # built on first request

    async def home(call: Call) -> Reply:
        """Browsers only: API clients get the index (prompt_ledger.handlers.home)."""
        return redirect("/prompts" if await _visitor(call) else "/sign-in")

    async def docs(call: Call) -> Reply:
        """Public, like /openapi.json; a signed-in visitor keeps the console's navigation."""
        chosen = call.request.query_params.get("function", "")
        return html(
            "docs.html",
            visit=await _visitor(call),
            functions=list(api),
            chosen=chosen if chosen in api else next(iter(api)),
        )

    async def document(call: Call) -> Reply:
        name = str(call.path["name"])
        if name not in api:
            raise NotFound(f"No function '{name[:100]}'; the functions are {', '.join(api)}.")
        if name not in documents:
            documents[name] = openapi_document(f"PromptLedger {name}", list(api[name]))
        return Reply(documents[name])

    return [
        endpoint("GET", "/", home, "The console (browsers; API clients get the JSON index)"),
        endpoint("GET", "/docs", docs, "API documentation (Swagger UI)"),
        endpoint("GET", "/docs/openapi/{name}.json", document, "A function's OpenAPI document"),
    ]
