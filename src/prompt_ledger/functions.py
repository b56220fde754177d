"""The catalogue of HTTP functions: which endpoints each deployable function serves.

Every function also answers ``GET /health`` (200 only when the database answers) and
``GET /openapi.json`` (its part of the API)."""

from __future__ import annotations

from collections.abc import Sequence

from prompt_ledger import __version__
from prompt_ledger.bodies import Health
from prompt_ledger.handlers import admin, executions, prompts
from prompt_ledger.http.dispatch import ContainerProvider, HttpFunction
from prompt_ledger.http.endpoint import Call, Endpoint, Reply
from prompt_ledger.http.openapi import openapi_document

FUNCTIONS: dict[str, Sequence[Endpoint]] = {
    "registry": [*prompts.ENDPOINTS, *admin.ENDPOINTS],
    "executions": executions.ENDPOINTS,
}


def build(
    name: str, container: ContainerProvider, endpoints: Sequence[Endpoint] | None = None
) -> HttpFunction:
    """One function (or, with explicit endpoints, the gateway's union of them)."""
    own = list(FUNCTIONS[name] if endpoints is None else endpoints)

    async def health(call: Call) -> Reply:
        await call.app.db.ping()
        return Reply(Health(status="ok", function=name, version=__version__))

    document = openapi_document(f"PromptLedger {name}", own)

    async def openapi(call: Call) -> Reply:
        return Reply(document)

    return HttpFunction(
        name,
        [
            *own,
            Endpoint(
                "GET",
                "/health",
                health,
                "Liveness and database check",
                None,
                response=Health,
                tag="ops",
            ),
            Endpoint(
                "GET", "/openapi.json", openapi, "This function's OpenAPI document", None, tag="ops"
            ),
        ],
        container,
    )
