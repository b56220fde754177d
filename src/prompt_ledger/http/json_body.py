"""Request bodies as JSON: UTF-8, RFC 8259 numbers only (finite), bounded nesting, no lone
surrogates; what json.loads would accept but nothing downstream can serialise or store is
refused here, before any model sees it."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from prompt_ledger.errors import BadRequest, ValidationFailed

MAX_JSON_DEPTH = 128  # well below the 255 levels at which pydantic stops serialising
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def parse_json(raw: bytes) -> Any:
    """A JSON document (UTF-8), or 400 naming what is wrong with it."""
    try:
        # UTF-8 only (RFC 8259): json.loads would also accept UTF-16 and UTF-32 bytes.
        data = json.loads(
            raw.decode("utf-8").removeprefix("\ufeff"),
            parse_constant=_not_finite,
        )
    except NotFinite as exc:
        raise _not_finite_refused(str(exc)) from None
    except UnicodeDecodeError:
        raise BadRequest("The body is not valid UTF-8 (JSON must be UTF-8).") from None
    except RecursionError:
        raise BadRequest("The JSON body is nested too deeply.") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"Malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}."
        ) from None
    except ValueError:  # an integer literal over Python's 4300-digit conversion limit
        raise BadRequest("The JSON body holds a number too long to read.") from None
    _check_json(data)
    return data


class NotFinite(Exception):
    """NaN or Infinity, which Python's json reads though RFC 8259 has no such literals."""


def _not_finite(literal: str) -> float:
    raise NotFinite(literal)


def _not_finite_refused(literal: str) -> ValidationFailed:
    return ValidationFailed(
        f"The JSON body holds {literal}: numbers must be finite (PostgreSQL stores no NaN or "
        "infinity).",
        errors=[{"loc": ["body"], "msg": "not a finite number", "type": "finite_number"}],
    )


def _check_json(data: Any) -> None:
    """Refuse what json.loads accepts but nothing downstream can serialise or store: nesting
    deeper than MAX_JSON_DEPTH, and lone UTF-16 surrogates (escapes like \\ud800 without their
    pair), which cannot be encoded as UTF-8."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if not value.isascii() and _SURROGATE.search(value):
                raise BadRequest("The JSON body holds an unpaired UTF-16 surrogate escape.")
        elif isinstance(value, float):
            if math.isinf(value):  # a literal beyond a double's range, such as 1e999
                raise _not_finite_refused("a number beyond a double's range")
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise BadRequest("The JSON body is nested too deeply.")
            children = [*value, *value.values()] if isinstance(value, dict) else value
            pending.extend((child, depth + 1) for child in children)
