"""Path parameter checks shared by handlers."""

from __future__ import annotations

import re
from uuid import UUID

from prompt_ledger.bodies import LABEL_PATTERN, NAME_PATTERN
from prompt_ledger.errors import NotFound, ValidationFailed
from prompt_ledger.http.endpoint import Call

_NAME = re.compile(NAME_PATTERN)
_LABEL = re.compile(LABEL_PATTERN)


def path_text(call: Call, key: str, pattern: re.Pattern[str], what: str) -> str:
    value = str(call.path[key])
    if not pattern.match(value):
        raise ValidationFailed(
            f"Invalid {what} '{value[:100]}'.",
            errors=[
                {"loc": ["path", key], "msg": f"must match {pattern.pattern}", "type": "pattern"}
            ],
        )
    return value


def prompt_name(call: Call) -> str:
    return path_text(call, "name", _NAME, "prompt name")


def label_name(call: Call) -> str:
    return path_text(call, "label", _LABEL, "label")


def path_uuid(call: Call, key: str, what: str) -> UUID:
    try:
        return UUID(str(call.path[key]))
    except ValueError:
        raise NotFound(f"{what} '{str(call.path[key])[:100]}' not found.") from None
