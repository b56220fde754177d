"""A side-by-side diff of two texts, line by line, with the changed characters of each changed
line marked; long unchanged stretches fold to a count."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

CONTEXT = 3  # unchanged lines kept around each change
INTRALINE_LIMIT = 2000  # longer lines are marked changed whole (matching is quadratic)
SIMILAR = 0.5  # lines less alike than this are marked changed whole (no confetti of marks)

Kind = Literal["equal", "replace", "delete", "insert", "fold"]


@dataclass(frozen=True, slots=True)
class Cell:
    number: int
    parts: list[tuple[str, bool]]  # (text, changed)


@dataclass(frozen=True, slots=True)
class Row:
    kind: Kind
    left: Cell | None = None
    right: Cell | None = None
    folded: int = 0


def side_by_side(old: str, new: str) -> list[Row]:
    a, b = old.splitlines(), new.splitlines()
    rows: list[Row] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows += _equal(a, i1, i2, j1)
        elif tag == "replace":
            for k in range(max(i2 - i1, j2 - j1)):
                i, j = i1 + k, j1 + k
                if i < i2 and j < j2:
                    left, right = _intraline(a[i], b[j])
                    rows.append(Row("replace", Cell(i + 1, left), Cell(j + 1, right)))
                elif i < i2:
                    rows.append(Row("delete", left=Cell(i + 1, [(a[i], True)])))
                else:
                    rows.append(Row("insert", right=Cell(j + 1, [(b[j], True)])))
        elif tag == "delete":
            rows += [Row("delete", left=Cell(i + 1, [(a[i], True)])) for i in range(i1, i2)]
        else:
            rows += [Row("insert", right=Cell(j + 1, [(b[j], True)])) for j in range(j1, j2)]
    return _fold(rows)


def _equal(a: list[str], i1: int, i2: int, j1: int) -> list[Row]:
    return [
        Row("equal", Cell(i + 1, [(a[i], False)]), Cell(j1 + k + 1, [(a[i], False)]))
        for k, i in enumerate(range(i1, i2))
    ]


def _intraline(old: str, new: str) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    whole = [(old, True)] if old else [], [(new, True)] if new else []
    if len(old) > INTRALINE_LIMIT or len(new) > INTRALINE_LIMIT:
        return whole
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    if matcher.ratio() < SIMILAR:
        return whole
    left: list[tuple[str, bool]] = []
    right: list[tuple[str, bool]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if old[i1:i2]:
            left.append((old[i1:i2], tag != "equal"))
        if new[j1:j2]:
            right.append((new[j1:j2], tag != "equal"))
    return left, right


def _fold(rows: list[Row]) -> list[Row]:
    """Keep CONTEXT unchanged lines around changes; fold longer unchanged runs to a count."""
    changed = [i for i, row in enumerate(rows) if row.kind != "equal"]
    if not changed:
        return rows
    keep = {j for i in changed for j in range(i - CONTEXT, i + CONTEXT + 1)}
    out: list[Row] = []
    hidden = 0
    for i, row in enumerate(rows):
        if row.kind == "equal" and i not in keep:
            hidden += 1
            continue
        if hidden:
            out.append(Row("fold", folded=hidden))
            hidden = 0
        out.append(row)
    if hidden:
        out.append(Row("fold", folded=hidden))
    return out
