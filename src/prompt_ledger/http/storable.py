"""Request values PostgreSQL cannot hold are refused at the edge, naming where they are.

PostgreSQL's text and jsonb cannot hold U+0000 (NUL), and jsonb holds no NaN or infinity. Such a
value in a request is the caller's (422 naming its place); the database never sees one, so a
``psycopg.DataError`` can only come from our own code, and stays a 500 (``db/store.py``).
Values an endpoint never stores (``Endpoint.unstored``, e.g. the variables of a render) may hold
them."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from prompt_ledger.errors import ValidationFailed

NUL = "\x00"


def refuse_unstorable(data: Any, where: str, unstored: Collection[str] = ()) -> None:
    """Raise a 422 naming the first NUL character or non-finite number in ``data`` (the parsed
    path, query or body), skipping the top-level keys in ``unstored``."""
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while pending:
        value, loc = pending.pop()
        if isinstance(value, str):
            if NUL in value:
                raise _refused(where, loc, "PostgreSQL cannot store U+0000 (NUL)", "nul")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise _refused(where, loc, "not a finite number", "finite_number")
        elif isinstance(value, Mapping):
            for key, child in value.items():
                if not loc and key in unstored:
                    continue
                if isinstance(key, str) and NUL in key:
                    raise _refused(
                        where, (*loc, key), "PostgreSQL cannot store U+0000 (NUL)", "nul"
                    )
                pending.append((child, (*loc, key)))
        elif isinstance(value, list | tuple):
            pending.extend((child, (*loc, i)) for i, child in enumerate(value))


def has_nul(value: Any) -> bool:
    """Whether a decoded JSON value holds a NUL anywhere (e.g. in a cursor)."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, Mapping):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False


def _refused(where: str, loc: tuple[str | int, ...], msg: str, kind: str) -> ValidationFailed:
    place = ".".join(str(part) for part in (where, *loc))
    return ValidationFailed(
        f"{place}: {msg}.",
        errors=[{"loc": [where, *loc], "msg": msg, "type": kind}],
    )
