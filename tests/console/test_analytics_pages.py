"""The console's analytics pages over raw HTTP: the overview of a window, one prompt's charts
over time and its versions side by side, and who may see them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from prompt_ledger.settings import Settings
from prompt_ledger.testing.stub_llm import Reply, StubLLM
from tests.console.conftest import Visitor, VisitorFactory, make_key, put_prompt, seed_model
from tests.execution_fixtures import stub_settings


@pytest.fixture
def stub() -> Iterator[StubLLM]:
    with StubLLM() as server:
        yield server


@pytest.fixture
def settings(database_url: str, stub: StubLLM) -> Settings:
    """A loopback provider that can be told to fail (the error rate)."""
    return stub_settings(database_url, stub)


async def run(client: httpx.AsyncClient, name: str, **body: Any) -> httpx.Response:
    return await client.post(
        "/v1/executions:run",
        json={"prompt_name": name, "variables": {"name": "Ada"}, **body},
    )


def charts(page: httpx.Response) -> dict[str, dict[str, Any]]:
    found = re.findall(
        r'<script type="application/json" id="chart-([a-z]+)">(.*?)</script>', page.text, re.S
    )
    return {key: json.loads(data) for key, data in found}


async def test_no_executions_yet_says_how_to_run_one(visitor: Visitor) -> None:
    page = await visitor.get("/analytics")
    assert page.status_code == 200
    assert "No executions in this window" in page.text
    assert 'curl -X POST "http://testserver/v1/executions:run"' in page.text


async def test_the_overview_and_a_prompts_charts_show_what_ran(
    visitor: Visitor, client: httpx.AsyncClient, stub: StubLLM
) -> None:
    await seed_model(client)
    await put_prompt(client, "greeting", "Hello {{name}}")
    await put_prompt(client, "greeting", "Hi {{name}}!", set_active=True)
    await put_prompt(client, "other", "Bye {{name}}")
    for version in (1, 1, 2):
        assert (await run(client, "greeting", version=version)).status_code == 200
    stub.script(Reply(status=400))  # a permanent failure: one failed execution of v2
    assert (await run(client, "greeting", version=2)).status_code != 200
    assert (await run(client, "other")).status_code == 200

    overview = await visitor.get("/analytics")
    assert overview.status_code == 200
    tiles = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", overview.text))
    assert tiles["Executions"] == "5"
    assert tiles["Error rate"] == "20.0 %"
    top = re.findall(r'<a href="/analytics/prompts/([a-z_]+)">', overview.text)
    assert top[:2] == ["greeting", "other"]  # by volume, first table

    page = await visitor.get("/analytics/prompts/greeting?window=24h")
    assert page.status_code == 200
    drawn = charts(page)
    assert set(drawn) == {"volume", "errors", "latency", "cost"}
    volume = drawn["volume"]
    assert [s["label"] for s in volume["series"]] == ["succeeded", "failed"]
    assert sum(volume["series"][0]["values"]) == 3
    assert sum(volume["series"][1]["values"]) == 1
    assert len(volume["x"]) == 24  # hour buckets of the window
    assert [s["label"] for s in drawn["latency"]["series"]] == ["p50", "p95", "p99"]
    assert any(v is not None and v > 0 for v in drawn["errors"]["series"][0]["values"])
    # versions side by side: newest first, with their counts and error rates
    versions = re.findall(
        r'<td><a href="/prompts/greeting/versions/(\d)">v\d</a></td>\s*<td class="metric">\s*'
        r'<span class="value">([^<]+)</span>.*?<span class="value">([^<]+)</span>',
        page.text,
        re.S,
    )
    assert versions == [("2", "2", "50.0 %"), ("1", "2", "0.0 %")]
    # uPlot is vendored and served from here (no internet)
    assert re.search(r'src="/static/vendor/uplot/uPlot.iife.min.js\?v=\w+"', page.text)


async def test_a_bad_window_is_a_page_naming_it(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    await put_prompt(client, "greeting", "Hello {{name}}")
    page = await visitor.get("/analytics/prompts/greeting?window=forever")
    assert page.status_code == 422
    assert "query.window" in page.text
    assert (await visitor.get("/analytics/prompts/nothing")).status_code == 404


async def test_analytics_need_their_scope_and_stay_in_their_project(
    visitors: VisitorFactory, client: httpx.AsyncClient
) -> None:
    await seed_model(client)
    await put_prompt(client, "secret_prompt", "Classified {{name}}")
    assert (await run(client, "secret_prompt")).status_code == 200
    _, reader = await make_key(client, "default", ["prompts:read"])
    _, other_analyst = await make_key(client, "other", ["analytics:read", "prompts:read"])
    async with visitors() as visitor:
        await visitor.sign_in(reader)
        prompts = await visitor.get("/prompts/secret_prompt")
        assert 'href="/analytics"' not in prompts.text
        assert "/analytics/prompts/secret_prompt" not in prompts.text
        refused = await visitor.get("/analytics")
        assert refused.status_code == 403
        assert "analytics:read" in refused.text
    async with visitors() as other:
        await other.sign_in(other_analyst)
        overview = await other.get("/analytics")
        assert 'href="/analytics"' in overview.text
        assert "secret_prompt" not in overview.text
        assert (await other.get("/analytics/prompts/secret_prompt")).status_code == 404


async def test_a_long_window_asked_by_hour_is_drawn_by_day(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    await put_prompt(client, "greeting", "Hello {{name}}")
    long = await visitor.get("/analytics/prompts/greeting?window=30d&interval=hour")
    assert long.status_code == 200
    assert ", by day" in long.text
    assert 'id="coarser"' in long.text
    week = await visitor.get("/analytics/prompts/greeting?window=7d&interval=hour")
    assert ", by hour" in week.text
    assert 'id="coarser"' not in week.text
    # what the API refuses is still named by it
    too_long = await visitor.get("/analytics/prompts/greeting?window=500d&interval=hour")
    assert too_long.status_code == 422
