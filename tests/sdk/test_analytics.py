"""Analytics from a client's seat: the seeds' calls verbatim against a live server (the curl of
seeds/000 "Analytics" and the frontend's ``getPromptAnalytics``), and the SDK's
``ledger.analytics`` and ``ledger.get_prompt_analytics`` in both clients."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from prompt_ledger import (
    AnalyticsSummary,
    AsyncPromptLedger,
    NotFoundError,
    PromptAnalytics,
    PromptLedger,
    ValidationError,
)
from tests.conftest import DEV_KEY
from tests.readme import curl_commands, run_curl

SEED_HOST = "https://prompt-ledger-api.yourapp.railway.app"

# seeds/000 "### Analytics", verbatim
SEED_CURL = """\
curl -X GET "https://prompt-ledger-api.yourapp.railway.app/v1/analytics/summary" \\
  -H "X-API-Key: your-api-key"
"""


def get_prompt_analytics(api_base: str, api_key: str, prompt_name: str) -> httpx.Response:
    """The seeds' frontend ``getPromptAnalytics``: the same URL and header, from Python."""
    return httpx.get(
        f"{api_base}/v1/analytics/prompts/{prompt_name}", headers={"X-API-Key": api_key}
    )


def run_a_few(ledger: PromptLedger) -> list[Decimal]:
    ledger.create_prompt(name="user_welcome", template="Hello {{name}}! Welcome to {{app_name}}.")
    costs = []
    for name in ("Ada", "Grace", "Edsger"):
        result = ledger.execute("user_welcome", {"name": name, "app_name": "Acme"})
        assert result.status == "succeeded"
        costs.append(result.cost_usd or Decimal(0))
    return costs


def test_the_seed_calls_run_verbatim(live_url: str, ledger: PromptLedger) -> None:
    costs = run_a_few(ledger)

    [argv] = curl_commands(SEED_CURL)
    argv = [a.replace(SEED_HOST, live_url).replace("your-api-key", DEV_KEY) for a in argv]
    summary = run_curl(argv, {})
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert body["totals"]["executions"] == 3
    assert body["totals"]["error_rate"] == 0.0
    assert Decimal(body["totals"]["cost_usd"]) == sum(costs)
    assert [p["prompt_name"] for p in body["top_prompts_by_volume"]] == ["user_welcome"]
    assert [(m["provider"], m["model_name"]) for m in body["by_model"]] == [
        ("openai", "gpt-4o-mini")
    ]

    analytics = get_prompt_analytics(live_url, DEV_KEY, "user_welcome")
    assert analytics.status_code == 200, analytics.text
    prompt = analytics.json()
    assert prompt["prompt_name"] == "user_welcome"
    assert [v["version_number"] for v in prompt["by_version"]] == [1]
    assert prompt["by_version"][0]["executions"] == 3
    assert prompt["interval"] == "day"
    assert sum(point["executions"] for point in prompt["series"]) == 3


def test_the_sdk_reads_analytics(live_url: str, ledger: PromptLedger) -> None:
    run_a_few(ledger)
    summary = ledger.analytics.summary(window="24h", top=1)
    assert isinstance(summary, AnalyticsSummary)
    assert summary.totals.executions == 3
    assert summary["top_prompts_by_volume"][0].prompt_name == "user_welcome"

    seeds = ledger.get_prompt_analytics("user_welcome")
    assert isinstance(seeds, PromptAnalytics)
    same = ledger.analytics.prompt("user_welcome", window="6h", interval="hour")
    assert seeds.totals == same.totals
    assert len(same.series) == 6
    assert same.series[-1].executions == 3
    assert same.totals.latency_p95_ms is not None


def test_the_sdk_raises_typed_errors(live_url: str, ledger: PromptLedger) -> None:
    with pytest.raises(NotFoundError, match="Prompt 'nothing' not found"):
        ledger.get_prompt_analytics("nothing")
    with pytest.raises(ValidationError, match="31 days"):
        ledger.analytics.summary(window="40d", interval="hour")


async def test_the_async_client_reads_analytics(aledger: AsyncPromptLedger) -> None:
    await aledger.create_prompt(name="greet", template="Hi {{name}}")
    await aledger.execute("greet", {"name": "Ada"})
    summary = await aledger.analytics.summary()
    assert summary.totals.executions == 1
    prompt = await aledger.get_prompt_analytics("greet", window="48h")
    assert prompt.interval == "hour"
    assert prompt.totals.succeeded == 1
    assert (await aledger.analytics.prompt("greet")).by_version[0].version_number == 1
