"""One Retry-After parser for the worker (a provider's answer) and the SDK (ours)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import httpx2
import openai
import pytest

from prompt_ledger.providers import base
from prompt_ledger.retry_after import parse_retry_after
from prompt_ledger.sdk import errors

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC).timestamp()


def parse(**headers: str) -> float | None:
    return parse_retry_after({k.replace("_", "-"): v for k, v in headers.items()}, now=lambda: NOW)


def test_delta_seconds() -> None:
    assert parse(retry_after="3") == 3.0
    assert parse(retry_after=" 2.5 ") == 2.5
    assert parse(retry_after="0") == 0.0


def test_an_http_date_is_the_seconds_until_then() -> None:
    later = format_datetime(datetime(2026, 11, 26, 12, 0, 42, tzinfo=UTC), usegmt=True)
    assert later == "Thu, 26 Nov 2026 12:00:42 GMT"
    assert parse(retry_after=later) == 42.0
    assert parse(retry_after="Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # past: at once


def test_milliseconds_win_over_seconds() -> None:
    assert parse(retry_after_ms="1500") == 1.5
    assert parse(retry_after_ms="250", retry_after="30") == 0.25
    assert parse(retry_after_ms="soon", retry_after="4") == 4.0  # unreadable: the next form


@pytest.mark.parametrize(
    "value", ["soon", "", "-1", "nan", "inf", "1e999", "Thu, 99 Nov 2026 12:00:00 GMT", "12:00"]
)
def test_garbage_is_ignored(value: str) -> None:
    assert parse(retry_after=value) is None
    assert parse(retry_after_ms=value) is None


def test_absent_and_case_insensitive() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after({"RETRY-AFTER": "7"}) == 7.0
    assert parse_retry_after(httpx.Headers({"Retry-After-Ms": "20"})) == 0.02
    assert parse_retry_after([("Retry-After", "1"), ("retry-after", "9")]) == 1.0  # first wins


def test_the_worker_and_the_sdk_share_it() -> None:
    assert errors.parse_retry_after is parse_retry_after
    problem = errors.error_from_problem(429, {"title": "x"}, {"retry-after-ms": "1200"})
    assert problem.retry_after == 1.2
    # The worker: a provider's 429 through the OpenAI SDK's error, each form.
    later = format_datetime(datetime.fromtimestamp(time.time() + 3600, UTC), usegmt=True)
    for headers, expected in (
        ({"retry-after-ms": "1200"}, 1.2),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": later}, 3600.0),
        ({"retry-after": "soon"}, None),
    ):
        response = httpx2.Response(
            429, headers=headers, request=httpx2.Request("POST", "http://x/chat/completions")
        )
        failure = base.sdk_failure(
            openai.RateLimitError("slow down", response=response, body=None),
            sdk=openai,
            provider="openai",
            label="OpenAI",
        )
        assert failure.transient is True
        if expected is None or expected < 3600:
            assert failure.retry_after == expected
        else:  # the seconds until a date: a little less by now
            assert failure.retry_after is not None
            assert 3000 < failure.retry_after <= 3600
