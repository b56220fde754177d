"""``GET /`` of every function: a small JSON index saying what this function is and where its
API, OpenAPI document, docs and health check are, for API-only deploys and curl users.

The console (HTML for browsers) takes ``/`` over by answering ``Accept: text/html`` requests
before this endpoint; every other request keeps this index."""

from __future__ import annotations

import re
from collections.abc import Sequence

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
    "openapi": "/openapi.json",
    "docs": "/docs",
    "health": "/health",
    "livez": "/livez",
    "metrics": "/metrics",
}


def index_endpoint(function: str, endpoints: Sequence[Endpoint]) -> Endpoint:
    """``GET /`` for the function serving ``endpoints``; links only to what it serves."""
    served = {(e.method, e.path) for e in endpoints}
    page = Index(
        name="PromptLedger",
        function=function,
        version=__version__,
        description=DESCRIPTION,
        links={rel: path for rel, path in LINKS.items() if ("GET", path) in served},
        endpoints=[
            e.method + " " + _CONVERTOR.sub(r"{\1}", e.path) for e in endpoints if e.tag != "ops"
        ],
    )

    async def index(call: Call) -> Reply:
        return Reply(page)

    return Endpoint(
        "GET",
        "/",
        index,
        "What this function is, and where its API, docs and health check are",
        None,
        response=Index,
        tag="ops",
    )
