"""Which adapter answers which provider name (providers/catalog.py), and the offline demo
provider's answers (providers/demo.py): found by `make mutate`."""

from __future__ import annotations

from typing import Any

import pytest

from prompt_ledger.errors import ValidationFailed
from prompt_ledger.providers.anthropic import AnthropicProvider
from prompt_ledger.providers.base import CompletionRequest
from prompt_ledger.providers.catalog import Providers
from prompt_ledger.providers.demo import DEMO_NOTICE, DemoProvider
from prompt_ledger.providers.openai import OpenAIProvider
from prompt_ledger.settings import Settings


def providers(**fields: Any) -> Providers:
    return Providers(Settings(_env_file=None, environment="test", **fields))


@pytest.mark.parametrize(
    ("fields", "configured"),
    [
        ({}, {"demo"}),
        ({"openai_api_key": "sk"}, {"demo", "openai"}),
        ({"openai_base_url": "http://127.0.0.1:9/v1"}, {"demo", "openai"}),
        ({"anthropic_api_key": "sk-ant"}, {"demo", "anthropic"}),
        # a base URL alone is not an Anthropic account (only OpenAI-compatible servers go keyless)
        ({"anthropic_base_url": "http://127.0.0.1:9"}, {"demo"}),
        ({"openai_api_key": "sk", "anthropic_api_key": "sk-ant"}, {"demo", "openai", "anthropic"}),
    ],
)
def test_a_provider_is_configured_by_its_own_credentials(
    fields: dict[str, Any], configured: set[str]
) -> None:
    catalog = providers(demo_fallback=False, **fields)
    assert {name for name in ("openai", "anthropic", "demo") if catalog.configured(name)} == (
        configured
    )
    assert catalog.any_configured() is (configured != {"demo"})
    for name in configured:
        assert catalog.serving(name) == name


def test_an_unknown_provider_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValidationFailed) as refused:
        providers(demo_fallback=True).serving("mistral")
    assert refused.value.detail == (
        "Unknown provider 'mistral'; known providers: openai, anthropic, demo."
    )
    assert refused.value.errors == [
        {"loc": ["body", "model", "provider"], "msg": "unknown provider", "type": "provider"}
    ]


@pytest.mark.parametrize(
    ("name", "variable"),
    [("openai", "OPENAI_API_KEY (or OPENAI_BASE_URL)"), ("anthropic", "ANTHROPIC_API_KEY")],
)
def test_an_unconfigured_provider_is_refused_naming_its_setting(name: str, variable: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        providers(demo_fallback=False).serving(name)
    assert refused.value.detail == (
        f"Provider '{name}' is not configured on this server: set {variable}."
    )
    assert refused.value.errors == [
        {"loc": ["body", "model", "provider"], "msg": "provider not configured", "type": "provider"}
    ]


def test_the_demo_fallback_serves_what_has_no_credentials() -> None:
    assert providers(demo_fallback=True).serving("openai") == "demo"
    assert providers(demo_fallback=True, openai_api_key="sk").serving("anthropic") == "demo"
    assert providers(demo_fallback=True, openai_api_key="sk").serving("openai") == "openai"
    # auto: only while no real provider has credentials
    assert providers(demo_fallback="auto").serving("anthropic") == "demo"
    with pytest.raises(ValidationFailed):
        providers(demo_fallback="auto", openai_api_key="sk").serving("anthropic")


async def test_each_name_is_built_once_as_its_adapter() -> None:
    catalog = providers(
        openai_api_key="sk-one",
        openai_base_url="http://127.0.0.1:9/v1",
        anthropic_api_key="sk-ant-one",
        anthropic_base_url="http://127.0.0.1:9",
        provider_timeout=7.5,
    )
    try:
        openai, anthropic, demo = (catalog.get(n) for n in ("openai", "anthropic", "demo"))
        assert (type(openai), type(anthropic), type(demo)) == (
            OpenAIProvider,
            AnthropicProvider,
            DemoProvider,
        )
        assert catalog.get("openai") is openai
        assert catalog.get("demo") is demo
        # the SDK clients carry the settings
        clients = (openai._client, anthropic._client)  # type: ignore[attr-defined]
        assert [c.api_key for c in clients] == ["sk-one", "sk-ant-one"]
        assert [str(c.base_url).rstrip("/") for c in clients] == [
            "http://127.0.0.1:9/v1",
            "http://127.0.0.1:9",
        ]
        assert [c.timeout for c in clients] == [7.5, 7.5]
        assert [c.max_retries for c in clients] == [0, 0]  # retries are the worker's
    finally:
        await catalog.aclose()
    assert catalog.get("openai") is not openai  # closed: built anew on the next use
    await catalog.aclose()


async def test_an_openai_compatible_server_needs_no_key() -> None:
    catalog = providers(openai_base_url="http://127.0.0.1:9/v1")
    try:
        assert catalog.get("openai")._client.api_key == "not-needed"  # type: ignore[attr-defined]
    finally:
        await catalog.aclose()


def request(text: str, max_tokens: int | None = None) -> CompletionRequest:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]
    return CompletionRequest("demo-model", messages, max_tokens=max_tokens)


async def test_the_demo_provider_answers_with_a_digest_and_a_preview() -> None:
    demo = DemoProvider()
    answer = await demo.complete(request("hello world"))
    assert answer.text == (
        f"{DEMO_NOTICE}\nmodel=demo-model digest=554c8faf13cb\nBe brief. hello world"
    )
    assert (answer.prompt_tokens, answer.completion_tokens) == (4, len(answer.text.split()))
    assert (answer.model, answer.finish_reason) == ("demo-model", "stop")
    assert await demo.complete(request("hello world")) == answer  # deterministic
    assert (await demo.complete(request("hello there"))).text != answer.text
    await demo.aclose()


async def test_the_demo_preview_keeps_forty_words() -> None:
    demo = DemoProvider()
    forty = " ".join(f"w{i}" for i in range(38))  # with "Be brief.": 40 words
    assert (await demo.complete(request(forty))).text.endswith(f"Be brief. {forty}")
    longer = (await demo.complete(request(forty + " w38"))).text
    assert longer.endswith(f"Be brief. {forty} ...")
    assert (await demo.complete(request(forty + " w38"))).prompt_tokens == 41


async def test_the_demo_provider_keeps_to_max_tokens() -> None:
    demo = DemoProvider()
    full = (await demo.complete(request("hello world"))).text
    assert (await demo.complete(request("hello world", max_tokens=3))).text == " ".join(
        full.split(" ")[:3]
    )
    assert (await demo.complete(request("hello world", max_tokens=0))).text == full.split(" ")[0]


async def test_the_demo_stream_is_the_completion_a_word_at_a_time() -> None:
    demo = DemoProvider()
    answer = await demo.complete(request("hello  world "))
    pieces = [piece async for piece in demo.stream(request("hello  world "))]
    *words, last = pieces
    assert "".join(p.text for p in words) == answer.text
    assert all(p.text.strip() and p.prompt_tokens is None for p in words)
    assert (last.text, last.prompt_tokens, last.completion_tokens) == (
        "",
        answer.prompt_tokens,
        answer.completion_tokens,
    )
    assert (last.model, last.finish_reason) == ("demo-model", "stop")
