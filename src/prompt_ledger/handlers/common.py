"""Path parameter checks shared by handlers: each checks what ``bodies.PATH_PARAMETERS``
documents for that parameter."""

from __future__ import annotations

import re
from uuid import UUID

from prompt_ledger.bodies import MAX_INT, PATH_PARAMETERS
from prompt_ledger.errors import NotFound, ValidationFailed
from prompt_ledger.http.endpoint import Call

_PATTERNS = {
    key: re.compile(schema["pattern"])
    for key, schema in PATH_PARAMETERS.items()
    if "pattern" in schema
}


def path_text(call: Call, key: str, what: str) -> str:
    """The parameter, or 422 when it does not match its documented pattern (the whole value:
    ``$`` alone would let a trailing newline through)."""
    value = str(call.path[key])
    pattern = _PATTERNS[key]
    limit = PATH_PARAMETERS[key].get("maxLength")
    if not pattern.fullmatch(value) or (limit is not None and len(value) > limit):
        raise ValidationFailed(
            f"Invalid {what} '{value[:100]}'.",
            errors=[
                {"loc": ["path", key], "msg": f"must match {pattern.pattern}", "type": "pattern"}
            ],
        )
    return value


def prompt_name(call: Call) -> str:
    return path_text(call, "name", "prompt name")


def label_name(call: Call) -> str:
    return path_text(call, "label", "label")


def path_uuid(call: Call, key: str, what: str) -> UUID:
    try:
        return UUID(str(call.path[key]))
    except ValueError:
        raise NotFound(f"{what} '{str(call.path[key])[:100]}' not found.") from None


def version_number(call: Call) -> int:
    """The ``{number:int}`` of a version path, within what the database holds (0 is simply
    a version that does not exist)."""
    number = int(call.path["number"])
    if number > MAX_INT:
        raise ValidationFailed(
            f"Invalid version number {str(number)[:20]}: versions go up to {MAX_INT}.",
            errors=[
                {"loc": ["path", "number"], "msg": f"must be at most {MAX_INT}", "type": "range"}
            ],
        )
    return number
