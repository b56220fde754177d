"""RFC 9457 problem+json: the one shape of every error response."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.responses import Response

from prompt_ledger.errors import PromptLedgerError, ValidationFailed

PROBLEM_JSON = "application/problem+json"


def problem_response(error: PromptLedgerError, *, instance: str | None = None) -> Response:
    body = error.to_problem()
    if instance:
        body.setdefault("instance", instance)
    return Response(
        json.dumps(body, ensure_ascii=False, default=str),
        status_code=error.status,
        media_type=PROBLEM_JSON,
        headers=error.headers,
    )


def validation_failed(exc: ValidationError, where: str) -> ValidationFailed:
    """Name every field problem, including unknown fields, without echoing huge inputs."""
    errors: list[dict[str, Any]] = []
    for item in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = [where, *item["loc"]]
        errors.append({"loc": loc, "msg": item["msg"], "type": item["type"]})
    names = ", ".join(".".join(str(p) for p in e["loc"][1:]) or where for e in errors[:5])
    return ValidationFailed(f"Invalid {where}: {names}.", errors=errors)
