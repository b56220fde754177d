"""The sandboxed renderer shared by the server and the SDK."""

from __future__ import annotations

import hashlib
import tracemalloc

import pytest

from prompt_ledger.errors import MissingVariables, TemplateError, TemplateRefused
from prompt_ledger.sandbox import MAX_RENDER_STEPS, straight
from prompt_ledger.templates import (
    ChatMessage,
    PromptContent,
    declared_variables,
    render,
    render_off_loop,
    vet,
)


def text(source: str) -> PromptContent:
    return PromptContent(template_source=source)


def test_declared_variables_and_render() -> None:
    content = text("Summarize:\n{{text}} in {{ lang }}")
    assert declared_variables(content) == ["lang", "text"]
    assert (
        render(content, {"text": "doc", "lang": "fr"}, ["lang", "text"]).text
        == "Summarize:\ndoc in fr"
    )


def test_variables_with_a_fallback_are_optional() -> None:
    content = text(
        "{{ text }} in {{ lang | default('en') }}{% if tone is defined %} ({{ tone }}){% endif %}"
    )
    assert declared_variables(content) == ["text"]
    assert render(content, {"text": "doc"}, ["text"]).text == "doc in en"
    assert render(content, {"text": "doc", "tone": "dry"}, ["text"]).text == "doc in en (dry)"


def test_loop_variables_are_not_declared() -> None:
    assert declared_variables(text("{% for x in items %}{{ x }}{% endfor %}")) == ["items"]


def test_missing_variables_are_named_before_rendering() -> None:
    with pytest.raises(MissingVariables) as caught:
        render(text("{{a}} {{b}} {{c}}"), {"b": 1}, ["a", "b", "c"])
    assert caught.value.extra["missing"] == ["a", "c"]
    assert caught.value.status == 422


def test_syntax_errors_carry_the_line() -> None:
    with pytest.raises(TemplateError) as caught:
        declared_variables(text("ok\nok\n{% if x %}never closed"))
    assert caught.value.errors is not None
    assert caught.value.errors[0]["line"] == 3


def test_checksum_is_content_addressed() -> None:
    assert text("a").checksum() == text("a").checksum()
    assert text("a").checksum() != text("b").checksum()
    with_defaults = PromptContent(template_source="a", model_defaults={"temperature": 0.1})
    assert with_defaults.checksum() != text("a").checksum()
    chat = PromptContent(messages=(ChatMessage("user", "a"),))
    assert chat.checksum() != text("a").checksum()


@pytest.mark.parametrize(
    ("payload", "values"),
    [
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", {}),
        ("{{ cycler.__init__.__globals__.os.popen('id').read() }}", {}),
        ("{{ lipsum.__globals__['os'].system('id') }}", {}),
        ("{{ self._TemplateReference__context }}", {}),
        ("{{ namespace.__init__.__globals__ }}", {}),
        ("{{ x.append(1) }}{{ x }}", {"x": ["a caller's list"]}),
        ("{{ x.update(y=1) }}", {"x": {"a": 1}}),
        ("{{ 'a' * 1000000000 }}", {}),
        ("{{ 9 ** 9999999 }}", {}),
        ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", {}),
        ("{{ '%s' % x.__class__ }}", {"x": "a string"}),
        ("{{ x.__class__ }}", {"x": {"a": 1}}),
        ("{{ ''.format.__globals__ }}", {}),
    ],
)
def test_injection_payloads_are_refused_by_the_sandbox(
    payload: str, values: dict[str, object]
) -> None:
    """Each payload with the values a caller would really send: the sandbox refuses it (not an
    undefined attribute of an odd value)."""
    content = text(payload)
    variables = declared_variables(content)
    assert sorted(values) == variables
    with pytest.raises(TemplateRefused) as caught:
        render(content, values, variables)
    assert "<class" not in caught.value.detail
    assert "posix" not in caught.value.detail


@pytest.mark.parametrize("payload", ["{{ config.items() }}", "{{ request.application }}"])
def test_web_framework_globals_do_not_exist(payload: str) -> None:
    """Flask's ``config`` and ``request`` (the classic SSTI targets) are no globals here: such a
    name is an ordinary variable the caller must supply, and is then only the caller's value."""
    content = text(payload)
    (name,) = declared_variables(content)
    assert name in {"config", "request"}
    with pytest.raises(MissingVariables):
        render(content, {}, [name])
    assert render(text("{{ config.items() | list }}"), {"config": {"k": "v"}}, ["config"]).text == (
        "[('k', 'v')]"
    )


def test_unicode_round_trips() -> None:
    out = render(
        text("{{ greeting }} — {{ name }} 👋 مرحبا"),
        {"greeting": "Grüß", "name": "Zoë"},
        ["greeting", "name"],
    )
    assert out.text == "Grüß — Zoë 👋 مرحبا"


def test_output_is_bounded() -> None:
    with pytest.raises(TemplateError):
        render(
            text("{% for i in range(90000) %}{{ big }}{% endfor %}"), {"big": "x" * 100}, ["big"]
        )


def test_chat_rendering_as_text() -> None:
    content = PromptContent(
        messages=(ChatMessage("system", "Be {{tone}}"), ChatMessage("user", "hi"))
    )
    rendered = render(content, {"tone": "brief"}, declared_variables(content))
    assert rendered.messages == [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert rendered.as_text() == "[system]\nBe brief\n\n[user]\nhi"


def big_list_of_refs(levels: int) -> str:
    """A template nesting ten references to one big string ``levels`` deep: cheap to build,
    10**(levels + 6) characters once printed."""
    source = "{% set l0 = ['x' * 999999] %}"
    for n in range(1, levels + 1):
        source += f"{{% set l{n} = [{', '.join([f'l{n - 1}'] * 10)}] %}}"
    return source


# Each of these would build a gigabyte or more if it ran; each must be refused before it does.
AMPLIFICATIONS = {
    "center filter": "{{ 'a'|center(10**9) }}",
    "center method": "{{ 'a'.center(10**9) }}",
    "ljust": "{{ 'a'.ljust(10**9) }}",
    "rjust": "{{ 'a'.rjust(10**9) }}",
    "zfill": "{{ 'a'.zfill(10**9) }}",
    "expandtabs": "{{ 'a\\tb'.expandtabs(10**9) }}",
    "bytes center": "{{ 'a'.encode().center(10**9) }}",
    "to_bytes": "{{ (1).to_bytes(10**9, 'big') }}",
    "format width": "{{ '{:>1000000000}'.format(1) }}",
    "format nested width": "{{ '{:>{w}}'.format(1, w=10**9) }}",
    "format precision": "{{ '{:.1000000000f}'.format(1.5) }}",
    "format_map": "{{ '{a:>1000000000}'.format_map({'a': 1}) }}",
    "format many fields": "{{ ('{:>999999}' * 1000).format(*range(1000)) }}",
    "format repr": big_list_of_refs(3) + "{{ '{!r}'.format(l3) }}",
    "printf width": "{{ '%1000000000d' % 1 }}",
    "printf precision": "{{ '%.1000000000f' % 1.5 }}",
    "printf star": "{{ '%*d' % (10**9, 1) }}",
    "printf bytes": "{{ '%1000000000d'.encode() % 1 }}",
    "format filter": "{{ '%1000000000d'|format(1) }}",
    "indent": "{{ 'a\\nb'|indent(10**9) }}",
    "indent per line": "{{ ('a\\n' * 1000)|indent('x' * 1000000) }}",
    "lipsum": "{{ lipsum(10**6) }}",
    "wordwrap wrapstring": "{{ ('a ' * 400000)|wordwrap(1, wrapstring='x' * 3000) }}",
    "replace filter chained": "{{ ('a' * 1000)|replace('a', 'a' * 1000)|replace('a', 'aa') }}",
    "replace method": "{{ ('a' * 1000).replace('a', 'a' * 1000).replace('a', 'aa') }}",
    "replace method, one step": "{{ ('a' * 1000).replace('a', 'x' * 100000) }}",
    "join filter": "{{ range(100000)|join('x' * 100000) }}",
    "join method": "{{ ('x' * 1000000).join(range(2000)|map('string')) }}",
    "translate": "{{ ('x' * 999999).translate({120: 'y' * 999999}) }}",
    "tojson indent": "{{ [1, 2, 3]|tojson(indent=10**9) }}",
    "batch fill": "{{ [1]|batch(10**9, 'x')|list }}",
    "slice count": "{{ [1]|slice(10**9)|list }}",
    "urlize target": "{{ ('http://a.io ' * 80000)|urlize(target='x' * 13000) }}",
    "list repetition": "{{ range(10)|list * 10**6 }}",
    "bytes repetition": "{{ 'a'.encode() * 10**10 }}",
    "nested list repetition": "{{ [['x' * 1000] * 1000] * 1000 }}",
    "integer power tower": "{{ (((((9 ** 64) ** 64) ** 64) ** 64) ** 64) ** 64 }}",
    "integer squaring": "{% set a = 9 ** 64 %}" + "{% set a = a * a %}" * 30 + "{{ a > 0 }}",
    "doubling with +": "{% set s = 'x' * 1000000 %}" + "{% set s = s + s %}" * 10 + "{{ 1 }}",
    "doubling with ~": "{% set s = 'x' * 1000000 %}" + "{% set s = s ~ s %}" * 10 + "{{ 1 }}",
    "captured block": "{% set x %}{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}"
    "{% endset %}",
    "macro output": "{% macro m() %}{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}"
    "{% endmacro %}{{ m()|length }}",
    "filter block": "{% filter upper %}{% for i in range(100000) %}{{ 'x' * 100000 }}"
    "{% endfor %}{% endfilter %}",
    "printing shared references": big_list_of_refs(3) + "{{ l3 }}",
    "stringifying shared references": big_list_of_refs(3) + "{{ l3|string|length }}",
    "concatenating shared references": big_list_of_refs(3) + "{{ (l3 ~ '')|length }}",
    "printf shared references": big_list_of_refs(3) + "{{ ('%s' % (l3,))|length }}",
    "escaping chain": "{{ ('😀' * 300000)" + "|urlencode" * 12 + "|length }}",
    "many big strings kept": "{% set s = 'x' * 900000 %}"
    + "".join(f"{{% set v{i} = s ~ {i} %}}" for i in range(1200))
    + "{{ 1 }}",
    "many big slices kept": "{% set s = 'x' * 900000 %}"
    + "".join(f"{{% set v{i} = s[{i}:] %}}" for i in range(1200))
    + "{{ 1 }}",
}


@pytest.mark.parametrize("payload", AMPLIFICATIONS.values(), ids=AMPLIFICATIONS.keys())
def test_amplification_is_refused_before_it_allocates(payload: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError) as caught:
            render(text(payload), {}, [])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.status == 422
    assert "unsafe operation" in caught.value.detail
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB allocated before refusing"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 'a'|center(5) }}", "  a  "),
        ("{{ 'ab'.ljust(4, '.') }}{{ '7'.zfill(3) }}{{ 'a\\tb'.expandtabs(2) }}", "ab..007a b"),
        ("{{ '{:>5}'.format(1) }}|{{ '{0:{1}}'.format(3, '>4') }}", "    1|   3"),
        ("{{ '{a}-{b!r}'.format_map({'a': 1, 'b': 'x'}) }}", "1-'x'"),
        ("{{ '{:,}'.format(1234567) }}|{{ '{:08.3f}'.format(3.14159) }}", "1,234,567|0003.142"),
        ("{{ '%5d' % 3 }}|{{ '%s+%s' % ('a', 'b') }}|{{ '100%%' % () }}", "    3|a+b|100%"),
        ("{{ '%-*d|' % (4, 7) }}{{ '%(x)s' % {'x': 1} }}{{ '%s-%s'|format(1, 2) }}", "7   |11-2"),
        ("{{ 'a\\nb'|indent(4) }}|{{ 'a\\nb'|indent('> ', first=True) }}", "a\n    b|> a\n> b"),
        ("{{ 'the quick brown fox jumps over'|wordwrap(15) }}", "the quick brown\nfox jumps over"),
        ("{{ lipsum(1, html=False)|wordcount > 5 }}", "True"),
        ("{{ 'banana'|replace('a', 'b') }}|{{ 'banana'.replace('an', '') }}", "bbnbnb|ba"),
        ("{{ ['a', 'b']|join(', ') }}|{{ '-'.join(range(3)|map('string')) }}", "a, b|0-1-2"),
        ("{{ [{'n': 'x'}, {'n': 'y'}]|join('/', attribute='n') }}", "x/y"),
        ("{{ 'x'|truncate(10**12) }}|{{ 'hello world foo'|truncate(9, leeway=0) }}", "x|hello..."),
        ("{{ [1, [2]]|tojson(indent=2) }}", "[\n  1,\n  [\n    2\n  ]\n]"),
        (
            "{{ range(5)|batch(2, 0)|list }}|{{ range(5)|slice(2)|list }}",
            "[[0, 1], [2, 3], [4, 0]]|[[0, 1, 2], [3, 4]]",
        ),
        (
            "{{ 'ab' * 3 }}|{{ [1] * 2 }}|{{ 2 ** 10 }}|{{ 'a' + 'b' }}|{{ 'a' ~ 1 }}",
            "ababab|[1, 1]|1024|ab|a1",
        ),
        ("{% set s = 'hello' %}{{ s[1:3] }}|{{ s[::-1] }}|{{ s[0] }}", "el|olleh|h"),
        (
            "{% macro hi(n) %}Hi {{ n }}{% endmacro %}{{ hi('Bo') }}|"
            "{% set b %}{{ 1 + 1 }}{% endset %}{{ b }}|{% filter upper %}x{% endfilter %}",
            "Hi Bo|2|X",
        ),
        (
            "{% autoescape true %}{{ '<b>' ~ 'x' }}{% endautoescape %}|"
            "{{ ('<b>%s</b>'|safe) % '<i>' }}",
            "&lt;b&gt;x|<b>&lt;i&gt;</b>",
        ),
        (
            "{% set ns = namespace(out='') %}{% for i in range(3) %}{% set ns.out = ns.out ~ i %}"
            "{% endfor %}{{ ns.out }}",
            "012",
        ),
        ("{{ ('x' * 1000000)|length }}", "1000000"),
    ],
)
def test_ordinary_formatting_still_works(source: str, expected: str) -> None:
    assert render(text(source), {}, []).text == expected


def test_a_big_variable_can_be_shortened() -> None:
    content = text("{{ doc|truncate(10) }} {{ doc|length }}")
    assert render(content, {"doc": "word " * 400_000}, ["doc"]).text == "word... 2000000"


@pytest.mark.parametrize(
    "source",
    [
        "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
        "{{ '{0}'.format() }}",
        "{{ '%(a)s' % {} }}",
        "{{ 'x'.encode('no-such-codec') }}",
    ],
)
def test_failing_template_code_is_a_template_error(source: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render(text(source), {}, [])
    assert caught.value.status == 422


# The bombs of issue #11: they print nothing, so no size budget stops them; steps and time do.
MACRO_BOMB = (
    "{% macro f(n) %}{% if n > 0 %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(21) }}"
)
LOOP_BOMB = "{% for a in 'x'*100000 %}{% for b in 'x'*100000 %}{% endfor %}{% endfor %}"


@pytest.mark.parametrize("bomb", [MACRO_BOMB, LOOP_BOMB], ids=["macros", "loops"])
def test_a_template_that_prints_nothing_is_still_stopped(bomb: str) -> None:
    with pytest.raises(TemplateRefused) as caught:
        render(text(bomb), {}, [])
    assert "exceeded its render budget" in caught.value.detail
    assert caught.value.status == 422


def test_loop_iterations_are_counted_deterministically() -> None:
    """The step budget does not depend on the machine's speed: the same template is refused
    at the same step everywhere, even with all the time in the world."""
    nested = "{% for a in items %}{% for b in items %}{% endfor %}{% endfor %}ok"
    with pytest.raises(TemplateRefused, match=f"more than {MAX_RENDER_STEPS} loop iterations"):
        render(text(nested), {"items": [0] * 500}, ["items"], seconds=3600)
    assert render(text(nested), {"items": [0] * 400}, ["items"], seconds=3600).text == "ok"


def test_macro_calls_are_counted() -> None:
    calls = "{% macro f() %}{% endmacro %}{% for i in range(1000) %}{{ f() }}{% endfor %}"
    assert render(text(calls), {}, [], seconds=3600).text == ""
    steps = _steps_used(calls)
    assert steps == 2001  # 1000 iterations, 1000 macro calls and the call to range()


def test_the_time_budget_stops_a_render_between_steps() -> None:
    with pytest.raises(TemplateRefused, match="longer than its time budget"):
        render(text(MACRO_BOMB), {}, [], seconds=0)


def test_loops_keep_their_semantics() -> None:
    source = (
        "{% for x in items %}{{ loop.index }}/{{ loop.length }}{{ '.' if loop.last }}"
        "{% else %}none{% endfor %}|{% for x in [] %}{% else %}empty{% endfor %}|"
        "{% for x in [[1, [2]], [3]] recursive %}{% if x is iterable %}{{ loop(x) }}"
        "{% else %}{{ x }}{% endif %}{% endfor %}|{% for k, v in {'a': 1}.items() %}{{ k }}{{ v }}"
        "{% endfor %}"
    )
    assert render(text(source), {"items": "ab"}, ["items"]).text == "1/22/2.|empty|123|a1"


async def test_a_template_that_needs_no_variable_is_refused_at_save() -> None:
    with pytest.raises(TemplateRefused, match="every render would be refused"):
        await vet(text(MACRO_BOMB), [], seconds=2)
    with pytest.raises(TemplateRefused, match="unsafe"):
        await vet(text("{{ ''.__class__ }}"), [], seconds=2)
    await vet(text("{{ 1 / 0 }}"), [], seconds=2)  # an error, not the sandbox's refusal
    await vet(text(MACRO_BOMB.replace("f(21)", "f(depth)")), ["depth"], seconds=2)  # depends


def _steps_used(source: str) -> int:
    from prompt_ledger import sandbox

    budget = sandbox._Budget()
    token = sandbox._budget.set(budget)
    try:
        sandbox._compiled(source).render({})
    finally:
        sandbox._budget.reset(token)
    return MAX_RENDER_STEPS - budget.steps


@pytest.mark.parametrize(
    ("source", "inline"),
    [
        ("Summarize: {{ text }}", True),
        ("plain text", True),
        ('{{ doc.title }}: {{ doc["body"] }} {{ items[0] }}', True),
        ("{% for i in items %}{{ i }}{% endfor %}", False),
        ("{{ text | upper }}", False),
        ("{{ text * 3 }}", False),
        ("{{ range(3) }}", False),
        ("{{ text[1:3] }}", False),
        ("{{ unclosed", False),
    ],
)
def test_only_text_and_plain_substitutions_render_on_the_loop(source: str, inline: bool) -> None:
    assert straight(source) is inline


async def test_a_straight_template_renders_as_in_the_render_thread() -> None:
    content = PromptContent(
        messages=(ChatMessage("system", "Be {{ tone }}."), ChatMessage("user", "{{ doc.body }}"))
    )
    variables = {"tone": "dry", "doc": {"body": "x" * 10}}
    rendered = await render_off_loop(content, variables, ["doc", "tone"])
    assert rendered == render(content, variables, ["doc", "tone"])
    assert rendered.messages == [
        {"role": "system", "content": "Be dry."},
        {"role": "user", "content": "x" * 10},
    ]
    with pytest.raises(TemplateRefused):  # the output bound holds on the loop too
        await render_off_loop(text("{{ big }}"), {"big": "x" * 2_000_000}, ["big"])


# Stored versions keep their checksum (identical content is detected by it), so the canonical
# form is a format: a change to it would make every stored version look different.
STORED_CHECKSUMS = [
    (
        PromptContent(
            template_source="Hi {{ name }} — ü", model_defaults={"temperature": 0.2, "model": "m"}
        ),
        '{"kind":"text","messages":null,"model_defaults":{"model":"m","temperature":0.2},'
        '"template_source":"Hi {{ name }} — ü"}',
    ),
    (
        PromptContent(
            messages=(ChatMessage("system", "Be brief"), ChatMessage("user", "{{q}}")),
            model_defaults={"b": 1, "a": 2},
        ),
        '{"kind":"chat","messages":[{"content":"Be brief","role":"system"},'
        '{"content":"{{q}}","role":"user"}],"model_defaults":{"a":2,"b":1},'
        '"template_source":null}',
    ),
]


@pytest.mark.parametrize(("content", "canonical"), STORED_CHECKSUMS, ids=["text", "chat"])
def test_the_checksum_is_the_sha256_of_a_fixed_canonical_form(
    content: PromptContent, canonical: str
) -> None:
    assert content.checksum() == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_every_syntax_error_is_reported_with_its_field_and_line() -> None:
    content = PromptContent(
        messages=(
            ChatMessage("system", "{{ tone }}"),
            ChatMessage("user", "ok\n{% if x %}never closed"),
            ChatMessage("user", "{{ broken"),
        )
    )
    with pytest.raises(TemplateError) as caught:
        declared_variables(content)
    assert caught.value.detail.startswith("Template syntax error in messages.1.content at line 2: ")
    errors = caught.value.errors
    assert errors is not None
    assert [(e["loc"], e["type"], e["line"]) for e in errors] == [
        (["body", "messages", "1", "content"], "template_syntax", 2),
        (["body", "messages", "2", "content"], "template_syntax", 1),
    ]
    assert all(e["msg"] for e in errors)
    with pytest.raises(TemplateError) as caught:
        declared_variables(text("{{ broken"))
    assert caught.value.errors is not None
    assert caught.value.errors[0]["loc"] == ["body", "template_source"]
    assert caught.value.errors[0]["msg"] == (
        "unexpected end of template, expected 'end of print statement'."
    )


def test_the_variables_of_every_message_are_declared() -> None:
    content = PromptContent(
        messages=(ChatMessage("system", "Be {{ tone }}"), ChatMessage("user", "{{ question }}"))
    )
    assert declared_variables(content) == ["question", "tone"]


def test_every_spelling_of_a_fallback_makes_a_variable_optional() -> None:
    source = "{{ a|d('z') }}{{ b|default('z') }}{% if c is undefined %}-{% endif %}{{ d }}"
    assert declared_variables(text(source)) == ["d"]
