"""OpenAPI 3.1 generated from the endpoint table and the same pydantic models that validate."""

from __future__ import annotations

import re
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


def openapi_document(title: str, endpoints: list[Endpoint]) -> dict[str, Any]:
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
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
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
                "required": True,
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
    problem = {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}}
    ok: dict[str, Any] = {"description": "OK"}
    if ep.response is not None:
        ok["content"] = {"application/json": {"schema": refs[(ep.response, "serialization")]}}
    out: dict[str, Any] = {
        str(ep.status): ok,
        "default": {"description": "Problem", "content": problem},
    }
    return out


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
