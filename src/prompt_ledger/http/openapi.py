"""OpenAPI 3.1 generated from the endpoint table and the same pydantic models that validate."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from prompt_ledger import __version__
from prompt_ledger.auth import Scope
from prompt_ledger.http.endpoint import Endpoint

_PARAM = re.compile(r"{([a-zA-Z_]+)(?::[a-z]+)?}")
REF = "#/components/schemas/{model}"
_REQUIRES = {
    Scope.ADMIN: "Requires scope `admin` in this project, or the instance operator.",
    Scope.OPERATOR: "Requires the instance operator (the bootstrap key, or scope `operator`).",
}
_STRING: dict[str, Any] = {"type": "string"}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; every error has this shape.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
EVENT_STREAM_SCHEMA: dict[str, Any] = {
    "type": "string",
    "description": 'With `"stream": true`: Server-Sent Events. `started` (data: '
    '`{"execution_id"}`), one `delta` per piece of text as the provider generates it (data: '
    '`{"text"}`), then `done` (data: the execution, as the JSON answer) or `error` (data: a '
    "problem; the execution is recorded failed with the text received). A replayed "
    "Idempotency-Key answers one `done` event.",
}
_PROBLEMS = {
    400: "Malformed request (e.g. a body that is not JSON)",
    401: "Missing, invalid or revoked API key",
    403: "The key lacks the scope named by `required_scope`",
    404: "Not found (or another project's)",
    408: "The body did not arrive within REQUEST_READ_TIMEOUT (the connection is closed)",
    409: "Conflict",
    413: "Request body too large",
    415: "The body is not JSON (in UTF-8)",
    422: "Request validation failed (`errors` names each field)",
    429: "The key's per-minute rate limit is used up (retry after `Retry-After` seconds)",
    503: "The database is unavailable (retry after `Retry-After`)",
}


def openapi_document(
    title: str,
    endpoints: list[Endpoint],
    path_parameters: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``path_parameters`` gives the schema of each path parameter by name (default: string)."""
    endpoints = [ep for ep in endpoints if ep.in_schema]
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for ep in endpoints:
        if ep.body is not None:
            models.append((ep.body, "validation"))
        if ep.response is not None:
            models.append((ep.response, "serialization"))
    refs, defs = models_json_schema(models, ref_template=REF)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        path = _PARAM.sub(r"{\1}", ep.path)
        op: dict[str, Any] = {
            "summary": ep.summary,
            "operationId": f"{ep.method.lower()}_{ep.handler.__name__}",
            "tags": [ep.tag],
            "parameters": [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": (path_parameters or {}).get(name, _STRING),
                }
                for name in _PARAM.findall(ep.path)
            ]
            + _query_parameters(ep),
            "responses": _responses(ep, refs),
        }
        if ep.scope is not None:
            op["security"] = [{"ApiKey": []}, {"Bearer": []}]
            op["description"] = _REQUIRES.get(
                ep.scope, f"Requires scope `{ep.scope.value}` (or `admin`, or `operator`)."
            )
        if ep.body is not None:
            op["requestBody"] = {
                "required": ep.body_required,
                "content": {"application/json": {"schema": refs[(ep.body, "validation")]}},
            }
        paths.setdefault(path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": __version__},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }


def _responses(ep: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status in (ep.status, *ep.also):
        ok: dict[str, Any] = {"description": "No content" if status == 204 else "OK"}
        if ep.response is not None and status != 204:
            schema = refs[(ep.response, "serialization")]
            ok["content"] = {"application/json": {"schema": schema}}
        if ep.streams and status == 200:
            ok["content"]["text/event-stream"] = {"schema": EVENT_STREAM_SCHEMA}
        out[str(status)] = ok
    if ep.method == "GET" and ep.response is not None:
        out["304"] = {"description": "Not modified (the `If-None-Match` ETag still matches)"}
    problem = {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}}
    for status, description in _PROBLEMS.items():
        if _may_answer(ep, status):
            out[str(status)] = {"description": description, "content": problem}
    out["default"] = {"description": "Problem", "content": problem}
    return out


def _may_answer(ep: Endpoint, status: int) -> bool:
    if status in (401, 403):
        return ep.scope is not None
    if status in (400, 408, 413, 415):
        return ep.body is not None
    if status == 429:
        return ep.scope is not None
    return status != 409 or ep.method in {"POST", "PUT"}


def _query_parameters(ep: Endpoint) -> list[dict[str, Any]]:
    if ep.query is None:
        return []
    schema = ep.query.model_json_schema(by_alias=True)
    required = set(schema.get("required", []))
    where: Literal["query"] = "query"
    return [
        {"name": name, "in": where, "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]
