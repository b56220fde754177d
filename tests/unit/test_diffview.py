"""The console's side-by-side diff rows."""

from __future__ import annotations

from prompt_ledger.console.diffview import CONTEXT, Row, side_by_side


def kinds(rows: list[Row]) -> list[str]:
    return [row.kind for row in rows]


def test_a_changed_line_pairs_with_its_new_text_and_marks_the_changed_characters() -> None:
    rows = side_by_side("Hello {{name}}\nBye\n", "Hello there {{name}}\nBye\n")
    assert kinds(rows) == ["replace", "equal"]
    left, right = rows[0].left, rows[0].right
    assert left is not None
    assert right is not None
    assert (left.number, right.number) == (1, 1)
    assert left.parts == [("Hello", False), (" {{name}}", False)]
    assert right.parts == [("Hello", False), (" there", True), (" {{name}}", False)]


def test_added_and_removed_lines_have_one_side() -> None:
    rows = side_by_side("a\nb\nc", "a\nc\nd")
    assert kinds(rows) == ["equal", "delete", "equal", "insert"]
    assert rows[1].right is None
    assert rows[1].left is not None
    assert rows[1].left.number == 2
    assert rows[3].left is None
    assert rows[3].right is not None
    assert rows[3].right.number == 3


def test_a_longer_replacement_keeps_its_extra_lines() -> None:
    rows = side_by_side("x", "y\nz")
    assert kinds(rows) == ["replace", "insert"]


def test_identical_texts_show_every_line() -> None:
    rows = side_by_side("a\nb", "a\nb")
    assert kinds(rows) == ["equal", "equal"]


def test_long_unchanged_stretches_fold_to_a_count() -> None:
    old = "\n".join(f"line {i}" for i in range(40))
    new = old.replace("line 20", "line twenty")
    rows = side_by_side(old, new)
    assert kinds(rows) == ["fold", *["equal"] * CONTEXT, "replace", *["equal"] * CONTEXT, "fold"]
    assert rows[0].folded == 20 - CONTEXT
    assert rows[-1].folded == 40 - 21 - CONTEXT


def test_very_long_lines_are_marked_whole() -> None:
    rows = side_by_side("a" * 5000, "a" * 4999 + "b")
    assert rows[0].left is not None
    assert rows[0].left.parts == [("a" * 5000, True)]


def test_lines_with_little_in_common_are_marked_whole() -> None:
    rows = side_by_side("Summarize:", "You are a precise editor.")
    assert rows[0].left is not None
    assert rows[0].left.parts == [("Summarize:", True)]
