"""The sandbox's bounds are exact: what builds MAX_RENDERED_CHARS renders, one more is refused
before it is built (the limits `make mutate` found untested at their edge)."""

from __future__ import annotations

import pytest

from prompt_ledger.errors import TemplateError, TemplateRefused
from prompt_ledger.sandbox import MAX_RANGE_ITEMS, MAX_RENDER_STEPS, MAX_RENDERED_CHARS
from prompt_ledger.templates import PromptContent, render

LIMIT = MAX_RENDERED_CHARS


def rendered(source: str, **variables: object) -> str:
    """Rendered with all the time in the world: these bounds never depend on the machine."""
    content = PromptContent(template_source=source)
    out = render(content, variables, sorted(variables), seconds=3600).text
    assert out is not None
    return out


def refused(source: str, **variables: object) -> str:
    with pytest.raises(TemplateError) as caught:
        rendered(source, **variables)
    assert caught.value.status == 422
    return caught.value.detail


# (template of one size, n at the limit): each builds a value whose size the sandbox works out
# before building it; n + 1 is one character too many.
AT_THE_LIMIT = {
    "repetition": ("{{ ('a' * n)|length }}", LIMIT),
    "repetition, count first": ("{{ (n * 'a')|length }}", LIMIT),
    "concatenation": ("{{ ('x' * (n - 1) + 'b')|length }}", LIMIT),
    "center filter": ("{{ 'a'|center(n)|length }}", LIMIT),
    "center method": ("{{ 'a'.center(n)|length }}", LIMIT),
    "ljust": ("{{ 'a'.ljust(n)|length }}", LIMIT),
    "zfill": ("{{ '1'.zfill(n)|length }}", LIMIT),
    "expandtabs": ("{{ 'a\\tb'.expandtabs(n - 3)|length > 0 }}", LIMIT),
    "replace": ("{{ ('a' * (n - 999000)).replace('a', 'a' * 1000)|length }}", LIMIT),
    "lipsum": ("{{ lipsum(1, html=False, max=n // 16)|length > 0 }}", LIMIT),
    "tojson indent": ("{{ [1]|tojson(indent=n - 6)|length > 0 }}", LIMIT),
    "tojson indent string": ("{{ [1]|tojson(indent=' ' * (n - 6))|length > 0 }}", LIMIT),
}


@pytest.mark.parametrize(("source", "n"), AT_THE_LIMIT.values(), ids=AT_THE_LIMIT.keys())
def test_what_builds_the_limit_renders_and_one_more_is_refused(source: str, n: int) -> None:
    assert rendered(source, n=n) in {str(n), "True"}
    detail = refused(source, n=n + (16 if "lipsum" in source else 1))
    assert "unsafe operation" in detail


def test_replace_with_a_count_is_sized_by_that_count() -> None:
    almost = "x" * (LIMIT - 1)
    assert rendered("{{ s.replace('x', 'yy', 1)|length }}", s=almost) == str(LIMIT)
    assert "unsafe operation" in refused("{{ s.replace('x', 'yy', 2)|length }}", s=almost)
    assert rendered("{{ s|replace('x', 'yy', 1)|length }}", s=almost) == str(LIMIT)
    assert rendered("{{ s.replace('x', 'y' * 1000, 0)|length }}", s=almost) == str(LIMIT - 1)


def test_the_exponent_is_bounded_either_way() -> None:
    assert rendered("{{ 2 ** 64 }}") == str(2**64)
    for source in ("{{ 2 ** 65 }}", "{{ 2 ** -65 }}", "{{ 2.0 ** 65 }}"):
        assert "exponent too large" in refused(source)


def test_range_items_are_budgeted_across_the_render() -> None:
    assert rendered("{{ range(n)|length }}", n=MAX_RANGE_ITEMS) == str(MAX_RANGE_ITEMS)
    assert "range()" in refused("{{ range(n)|length }}", n=MAX_RANGE_ITEMS + 1)
    half = MAX_RANGE_ITEMS // 2
    assert "range()" in refused("{{ range(n)|length }}{{ range(n + 1)|length }}", n=half)


def test_the_step_budget_allows_exactly_its_steps() -> None:
    loop = "{% for x in items %}{% endfor %}ok"
    assert rendered(loop, items=[0] * MAX_RENDER_STEPS) == "ok"
    with pytest.raises(TemplateRefused, match="loop iterations"):
        rendered(loop, items=[0] * (MAX_RENDER_STEPS + 1))


def test_lipsum_keeps_its_defaults_and_its_word_range() -> None:
    assert rendered("{{ lipsum().count('<p>') }}") == "5"
    assert rendered("{{ lipsum(1, html=False, min=200, max=201)|wordcount }}") == "200"


def test_str_format_may_build_exactly_the_limit() -> None:
    # the format string (10 characters), the value (1) and the width are paid for
    assert rendered("{{ '{:>999989}'.format(1)|length }}") == "999989"
    assert "unsafe operation" in refused("{{ '{:>999990}'.format(1)|length }}")
