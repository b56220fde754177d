"""The sandboxed renderer shared by the server and the SDK."""

from __future__ import annotations

import pytest

from prompt_ledger.errors import MissingVariables, TemplateError
from prompt_ledger.templates import ChatMessage, PromptContent, declared_variables, render


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
    "payload",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ lipsum.__globals__['os'].system('id') }}",
        "{{ self._TemplateReference__context }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ config.items() }}",
        "{{ request.application }}",
        "{{ x.append(1) }}{{ x }}",
        "{{ 'a' * 1000000000 }}",
        "{{ 9 ** 9999999 }}",
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        "{{ '%s' % x.__class__ }}",
        "{{ ''.format.__globals__ }}",
    ],
)
def test_injection_payloads_render_nothing_dangerous(payload: str) -> None:
    content = text(payload)
    variables = declared_variables(content)
    with pytest.raises(TemplateError) as caught:
        render(content, {name: [] for name in variables}, variables)
    assert "<class" not in caught.value.detail
    assert "posix" not in caught.value.detail


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
