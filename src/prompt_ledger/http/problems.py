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


def validation_failed(exc: ValidationError, where: str, *, empty: bool = False) -> ValidationFailed:
    """Name every field problem, including unknown fields, without echoing huge inputs. The
    detail names the fields (``(required)`` when missing) and states rules across fields."""
    errors: list[dict[str, Any]] = []
    for item in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = [where, *item["loc"]]
        errors.append({"loc": loc, "msg": item["msg"], "type": item["type"]})
    names = []
    for error in errors[:5]:
        field = ".".join(str(part) for part in error["loc"][1:])
        if not field:  # a rule of the whole body, e.g. "give exactly one of ..."
            names.append(str(error["msg"]).removeprefix("Value error, "))
        else:
            names.append(f"{field} (required)" if error["type"] == "missing" else field)
    lead = f"The {where} is empty" if empty else f"Invalid {where}"
    return ValidationFailed(f"{lead}: {', '.join(names)}.", errors=errors)
