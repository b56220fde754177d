"""Loads the named queries of ``queries.sql`` (one place for all SQL)."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_HEADER = re.compile(r"^-- ([a-z_]+) --\n-- (.+)\n", re.MULTILINE)


@cache
def all_queries() -> dict[str, str]:
    """Query name -> SQL text."""
    text = (resources.files("prompt_ledger.db") / "queries.sql").read_text(encoding="utf-8")
    found: dict[str, str] = {}
    matches = list(_HEADER.finditer(text))
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following else len(text)
        found[match.group(1)] = text[match.end() : end].strip().rstrip(";")
    return found


def query(name: str) -> str:
    try:
        return all_queries()[name]
    except KeyError:
        raise LookupError(f"no query named {name!r} in queries.sql") from None
