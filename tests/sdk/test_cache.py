"""The SDK's prompt cache against the real gateway, counting the requests the server received:
warm hits, TTL expiry with 304 revalidation, stale-while-revalidate, the fallback and
stale-if-error while the server is down, batch prefetch, and local rendering."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from prompt_ledger import AsyncPromptLedger, PromptLedger
from prompt_ledger.sdk import (
    APIConnectionError,
    NotFoundError,
    Prompt,
    PromptRef,
    ResolveFailure,
    ValidationError,
)
from tests.conftest import DEV_KEY
from tests.live_gateway import free_port_url
from tests.sdk.conftest import async_http
from tests.sdk.fakes import FakeClock, Log, RecordingTransport


def async_client(app: ASGIApp, log: Log, **options: Any) -> AsyncPromptLedger:
    return AsyncPromptLedger(
        "http://testserver", DEV_KEY, http_client=async_http(app, log), **options
    )


async def eventually_async(check: Callable[[], Any], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def eventually(check: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def statuses(log: Log, path: str) -> list[int]:
    return [s.status for s in log.seen if s.path == path]


# --- async client, in-process gateway ------------------------------------------------------


async def test_a_warm_cache_answers_without_a_request(
    aledger: AsyncPromptLedger, alog: Log
) -> None:
    await aledger.create_prompt("p", "Hi {{name}}")
    first = await aledger.get_prompt("p")
    assert await aledger.get_prompt("p") is first
    assert (await aledger.render_local("p", {"name": "Ada"})).text == "Hi Ada"
    assert alog.count("GET", "/v1/prompts/p") == 1


async def test_an_expired_entry_is_revalidated_with_its_etag(
    asgi_app: ASGIApp, alog: Log, araw: httpx.AsyncClient
) -> None:
    await araw.put("/v1/prompts/p", json={"template_source": "one"})
    async with async_client(asgi_app, alog, cache_ttl=10, stale_ttl=0) as ledger:
        clock = FakeClock().attach(ledger)
        first = await ledger.get_prompt("p")
        clock.advance(9.9)
        assert await ledger.get_prompt("p") is first  # fresh: no request
        clock.advance(0.2)
        assert await ledger.get_prompt("p") is first  # 304: what we hold is current
        assert await ledger.get_prompt("p") is first  # and fresh again: no request
        assert statuses(alog, "/v1/prompts/p") == [200, 304]
        revalidation = alog.seen[-1]
        assert revalidation.headers["If-None-Match"].startswith('"')

        await araw.put("/v1/prompts/p", json={"template_source": "two"})
        clock.advance(10.1)
        assert (await ledger.get_prompt("p")).template == "two"
        assert statuses(alog, "/v1/prompts/p") == [200, 304, 200]


async def test_a_stale_entry_is_served_at_once_and_refreshed_in_the_background(
    asgi_app: ASGIApp, alog: Log, araw: httpx.AsyncClient
) -> None:
    await araw.put("/v1/prompts/p", json={"template_source": "one"})
    async with async_client(asgi_app, alog, cache_ttl=10, stale_ttl=30) as ledger:
        clock = FakeClock().attach(ledger)
        await ledger.get_prompt("p")
        await araw.put("/v1/prompts/p", json={"template_source": "two"})
        clock.advance(10.1)
        assert (await ledger.get_prompt("p")).template == "one"  # stale, served at once
        assert (await ledger.get_prompt("p")).template == "one"  # one refresh at a time

        async def refreshed() -> bool:
            return (await ledger.get_prompt("p")).template == "two"

        await eventually_async(refreshed, "the background refresh")
        assert statuses(alog, "/v1/prompts/p") == [200, 200]


async def test_the_fallback_is_served_when_the_server_is_down_and_nothing_is_cached(
    asgi_app: ASGIApp, alog: Log
) -> None:
    alog.down = True
    async with async_client(asgi_app, alog, max_retries=0) as ledger:
        prompt = await ledger.get_prompt("welcome", fallback="Hello {{name}}!")
        assert prompt.is_fallback
        assert prompt.resolved_by == "fallback"
        assert prompt.version is not None
        assert prompt.version.version_number == 0
        assert prompt.variables == ["name"]
        assert prompt.render(name="Ada").text == "Hello Ada!"
        local = await ledger.render_local("welcome", {"name": "Ada"}, fallback="Hello {{name}}!")
        assert local.text == "Hello Ada!"

        chat = await ledger.get_prompt(
            "chat", fallback=[{"role": "system", "content": "Be {{tone}}."}]
        )
        assert chat.render({"tone": "brief"}).messages == [
            {"role": "system", "content": "Be brief."}
        ]

        with pytest.raises(APIConnectionError):  # the fallback is not cached
            await ledger.get_prompt("welcome")

        alog.down = False
        with pytest.raises(NotFoundError):  # a real answer is never papered over
            await ledger.get_prompt("welcome", fallback="Hello {{name}}!")


async def test_a_cached_prompt_outlives_its_ttl_while_the_server_is_down(
    asgi_app: ASGIApp, alog: Log, araw: httpx.AsyncClient
) -> None:
    await araw.put("/v1/prompts/p", json={"template_source": "one"})
    async with async_client(asgi_app, alog, cache_ttl=10, stale_ttl=0, max_retries=0) as ledger:
        clock = FakeClock().attach(ledger)
        first = await ledger.get_prompt("p")
        clock.advance(3600)  # long expired
        alog.down = True
        assert await ledger.get_prompt("p", fallback="unused") is first


async def test_prefetch_resolves_many_prompts_in_one_round_trip(
    aledger: AsyncPromptLedger, alog: Log
) -> None:
    await aledger.create_prompt("a", "A")
    await aledger.create_prompt("b", "B")
    await aledger.set_label("b", "production", 1)
    await aledger.create_prompt("c", "c1")
    await aledger.create_prompt("c", "c2")
    alog.seen.clear()

    results = await aledger.prefetch(
        ["a", PromptRef("b", label="production"), PromptRef("c", version=1), "ghost"]
    )
    assert [(s.method, s.path) for s in alog.seen] == [("POST", "/v1/prompts:resolve")]
    assert [type(r) for r in results] == [Prompt, Prompt, Prompt, ResolveFailure]
    failure = results[3]
    assert isinstance(failure, ResolveFailure)
    assert (failure.name, failure.status) == ("ghost", 404)

    assert (await aledger.get_prompt("a")).template == "A"
    assert (await aledger.get_prompt("b", label="production")).resolved_by == "label:production"
    assert (await aledger.get_prompt("c", version=1)).template == "c1"
    assert len(alog.seen) == 1


async def test_a_write_through_the_client_invalidates_its_cache(
    aledger: AsyncPromptLedger, alog: Log
) -> None:
    await aledger.create_prompt("p", "one")
    assert (await aledger.get_prompt("p")).template == "one"
    await aledger.update_prompt("p", "two")
    assert (await aledger.get_prompt("p")).template == "two"
    await aledger.set_label("p", "production", 1)
    assert (await aledger.get_prompt("p", label="production")).template == "one"
    await aledger.set_label("p", "production", 2)
    assert (await aledger.get_prompt("p", label="production")).template == "two"
    await aledger.activate_version("p", 1)
    assert (await aledger.get_prompt("p")).template == "one"
    assert alog.count("GET", "/v1/prompts/p") == 5


CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("text", "Hi {{ name | upper }}{% for i in range(3) %}!{% endfor %}", {"name": "ada"}),
    (
        "chat",
        [{"role": "system", "content": "Be {{tone}}."}, {"role": "user", "content": "{{q}}"}],
        {"tone": "brief", "q": "Why?"},
    ),
    ("optional", "Hi{% if name is defined %} {{name}}{% endif %}", {}),
]


async def test_render_local_renders_exactly_what_the_server_renders(
    aledger: AsyncPromptLedger,
) -> None:
    for name, template, variables in CASES:
        await aledger.create_prompt(name, template)
        local = await aledger.render_local(name, variables)
        assert local == await aledger.render(name, variables), name

    with pytest.raises(ValidationError) as on_server:
        await aledger.render("chat", {"tone": "x"})
    with pytest.raises(ValidationError) as locally:
        await aledger.render_local("chat", {"tone": "x"})
    assert locally.value.missing == on_server.value.missing == ["q"]
    assert locally.value.type == on_server.value.type

    await aledger.create_prompt("unsafe", "{{ name.__class__.__mro__ }}")
    with pytest.raises(ValidationError) as on_server:
        await aledger.render("unsafe", {"name": "x"})
    with pytest.raises(ValidationError) as locally:
        await aledger.render_local("unsafe", {"name": "x"})
    assert (
        locally.value.type == on_server.value.type == "https://promptledger.dev/problems/template"
    )


# --- sync client, live gateway -------------------------------------------------------------


def test_the_sync_cache_revalidates_in_a_background_thread(
    live_url: str, live_log: Log, raw: httpx.Client
) -> None:
    raw.put("/v1/prompts/p", json={"template_source": "one"})
    http = httpx.Client(transport=RecordingTransport(httpx.HTTPTransport(), live_log))
    with PromptLedger(live_url, DEV_KEY, http_client=http, cache_ttl=10, stale_ttl=30) as ledger:
        clock = FakeClock().attach(ledger)
        first = ledger.get_prompt("p")
        assert ledger.get_prompt("p") is first
        raw.put("/v1/prompts/p", json={"template_source": "two"})
        clock.advance(10.1)
        assert ledger.get_prompt("p").template == "one"  # stale, served at once
        eventually(lambda: ledger.get_prompt("p").template == "two", "the background refresh")
        assert statuses(live_log, "/v1/prompts/p") == [200, 200]

        clock.advance(10.1)
        assert ledger.get_prompt("p").template == "two"  # stale again: revalidated, unchanged
        eventually(lambda: len(statuses(live_log, "/v1/prompts/p")) == 3, "the revalidation")
        assert statuses(live_log, "/v1/prompts/p") == [200, 200, 304]
    http.close()


def test_the_sync_fallback_when_the_server_cannot_be_reached() -> None:
    with PromptLedger(free_port_url(), "k", max_retries=0) as ledger:
        prompt = ledger.get_prompt("welcome", fallback="Hello {{name}}!")
        assert prompt.is_fallback
        assert ledger.render_local("welcome", {"name": "Ada"}, fallback="Hi {{name}}").text == (
            "Hi Ada"
        )
        with pytest.raises(APIConnectionError):
            ledger.get_prompt("welcome")


def test_the_sync_prefetch_is_one_round_trip(ledger: PromptLedger, live_log: Log) -> None:
    names = [f"p{i}" for i in range(5)]
    ledger.register_code_prompts([(name, f"template {name}") for name in names])
    live_log.seen.clear()
    assert all(isinstance(p, Prompt) for p in ledger.prefetch(names))
    assert [ledger.get_prompt(name).template for name in names] == [
        f"template {name}" for name in names
    ]
    assert len(live_log.seen) == 1
