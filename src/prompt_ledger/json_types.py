"""JSON's own types for request bodies, as the OpenAPI documents state them.

pydantic's lax mode turns ``"5"`` or ``true`` into a number and ``1`` or ``"yes"`` into a
boolean; that suits query strings (all text) but would let a body that violates its schema
through. Bodies are validated with ``context=BODY``: a number must be a JSON number (an
integral ``5.0`` is an integer, as JSON Schema says) and a boolean a JSON boolean."""

from __future__ import annotations

import types
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin

BODY = {"json_types": True}
"""The validation context of request bodies."""

Kind = Literal["number", "boolean", "other"]


@cache
def kinds(annotation: Any) -> frozenset[Kind]:
    """What a field's annotation accepts, in JSON terms (unions unwrapped)."""
    if get_origin(annotation) in (Union, types.UnionType):
        return frozenset().union(*(kinds(arg) for arg in get_args(annotation)))
    if annotation is bool:
        return frozenset({"boolean"})
    if annotation in (int, float):
        return frozenset({"number"})
    if annotation is type(None):
        return frozenset()
    return frozenset({"other"})


def refuse_coercion(annotation: Any, value: Any) -> None:
    """Raise ValueError when ``value`` is not of a JSON type the field declares."""
    accepted = kinds(annotation)
    if "other" in accepted or not accepted:
        return
    if isinstance(value, bool):
        if "boolean" not in accepted:
            raise ValueError("expected a number, not a boolean")
    elif isinstance(value, int | float):
        if "number" not in accepted:
            raise ValueError("expected a boolean")
    elif isinstance(value, str):
        raise ValueError(f"expected a {' or '.join(sorted(accepted))}, not a string")
