"""``GET /`` of every function, in one place: a small JSON index saying what this function is
and where its API, OpenAPI document, docs and health check are (for API clients, curl, and
API-only deploys); a browser (``Accept: text/html``) gets the console's page instead, where the
function serves the console."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from prompt_ledger import __version__
from prompt_ledger.bodies import Index
from prompt_ledger.http.endpoint import Call, Endpoint, Reply

DESCRIPTION = (
    "PromptLedger: versioned prompts, executions and their ledger. Authenticate with "
    "X-API-Key (or Authorization: Bearer); errors are RFC 9457 problem+json."
)
_CONVERTOR = re.compile(r"{(\w+):\w+}")
"""``{number:int}`` is shown as ``{number}``."""
LINKS = {
    "docs": "/docs",
    "openapi": "/openapi.json",
    "health": "/health",
    "livez": "/livez",
    "metrics": "/metrics",
}


def wants_html(call: Call) -> bool:
    """Browsers ask for text/html; API clients (curl's ``*/*`` included) get JSON."""
    return "text/html" in call.request.headers.get("accept", "")


def front_door(
    function: str, served: Sequence[Endpoint], api: Mapping[str, Sequence[Endpoint]]
) -> list[Endpoint]:
    """``served`` with its ``GET /``: the index, or the console's page (a ``GET /`` among
    ``served``) for browsers. ``api`` is the catalogue of API functions: the index lists those
    whose endpoints this function serves."""
    page = next((e for e in served if e.method == "GET" and e.path == "/"), None)
    paths = {(e.method, e.path) for e in served}
    links = {"console": "/"} if page is not None else {}
    links |= {rel: path for rel, path in LINKS.items() if ("GET", path) in paths}
    built: list[Index] = []  # on the first GET /: the catalogue loads every function's handlers

    def index() -> Index:
        if not built:
            built.append(
                Index(
                    name="PromptLedger",
                    function=function,
                    version=__version__,
                    description=DESCRIPTION,
                    links=links,
                    functions={
                        name: [e.method + " " + _CONVERTOR.sub(r"{\1}", e.path) for e in endpoints]
                        for name, endpoints in api.items()
                        if endpoints and all((e.method, e.path) in paths for e in endpoints)
                    },
                )
            )
        return built[0]

    async def root(call: Call) -> Reply:
        if page is not None and wants_html(call):
            return await page.handler(call)
        return Reply(index())

    summary = "What this function is, and where its API, docs and health check are"
    door = Endpoint("GET", "/", root, summary, None, response=Index, tag="ops", in_schema=False)
    return [*(e for e in served if e is not page), door]
