"""Every panel of the Grafana dashboard (infra/grafana/dashboards/promptledger.json) shows
something after real traffic: each series a panel selects (metric and label matchers) moves.
A metric that is declared but never written (the cache panel, once) fails here.

The traffic, through the in-process gateway and a real worker: prompt reads (cache misses and
hits), sync executions answered by a stub OpenAI and by the demo provider, a provider 5xx (a 502
of ours), a queued execution held by the stub while /metrics is scraped (jobs running now,
queue depth), and a job that fails."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator

import pytest

from prompt_ledger.queue import RUN_EXECUTION
from prompt_ledger.testing.stub_llm import Reply, StubLLM
from tests.deploy.files import INFRA
from tests.execution_fixtures import (
    SEED_RUN,
    gateway,
    put_model,
    running_worker,
    seed,
    stub_settings,
    wait_for_status,
    wait_until,
)

DASHBOARD = INFRA / "grafana" / "dashboards" / "promptledger.json"
SELECTOR = re.compile(r"(promptledger_[a-z_]+)(?:\{([^}]*)\})?")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')
SAMPLE = re.compile(r"^(\w+)(?:\{(.*)\})? (\S+)$")
NOT_OURS = {"up"}  # Prometheus's own series, one per scraped target


def panel_selectors() -> dict[str, set[str]]:
    """Panel title -> the series selectors its queries use."""
    dashboard = json.loads(DASHBOARD.read_text())
    found: dict[str, set[str]] = {}
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        exprs = [target["expr"] for target in panel.get("targets", [])]
        assert exprs, f"panel {panel['title']!r} has no query"
        selectors = {m.group(0) for e in exprs for m in SELECTOR.finditer(e)}
        if not selectors:
            assert {re.match(r"\w+", e).group(0) for e in exprs} <= NOT_OURS  # type: ignore[union-attr]
            continue
        found[panel["title"]] = selectors
    return found


def total(text: str, selector: str) -> float:
    """The sum of the samples of ``text`` (Prometheus exposition) that ``selector`` selects."""
    match = SELECTOR.fullmatch(selector)
    assert match is not None, selector
    name, matchers = match.group(1), MATCHER.findall(match.group(2) or "")
    result = 0.0
    for line in text.splitlines():
        sample = SAMPLE.match(line)
        if sample is None or sample.group(1) != name:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', sample.group(2) or ""))
        if all(_matches(labels.get(key, ""), op, value) for key, op, value in matchers):
            result += float(sample.group(3))
    return result


def _matches(actual: str, op: str, value: str) -> bool:
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    full = re.fullmatch(value, actual) is not None
    return full if op == "=~" else not full


def test_the_selector_reader() -> None:
    text = (
        'promptledger_x_total{status="500",cache="a"} 2.0\n'
        'promptledger_x_total{status="200",cache="a"} 3.0\n'
        "promptledger_y 1.5\n"
    )
    assert total(text, "promptledger_x_total") == 5.0
    assert total(text, 'promptledger_x_total{status=~"5.."}') == 2.0
    assert total(text, 'promptledger_x_total{status!="500"}') == 3.0
    assert total(text, "promptledger_y") == 1.5
    assert total(text, 'promptledger_y{served_by="demo"}') == 0.0
    assert "Cache hit ratio" in panel_selectors()


@pytest.fixture
def stub() -> Iterator[StubLLM]:
    with StubLLM() as server:
        yield server


async def test_every_dashboard_panel_moves_after_real_traffic(
    database_url: str, stub: StubLLM
) -> None:
    selectors = panel_selectors()
    settings = stub_settings(
        database_url,
        stub,
        demo_fallback=True,
        anthropic_api_key=None,
        metrics_refresh_seconds=0.05,  # the database gauges, refreshed by a timer
    )
    async with gateway(settings) as (container, api):
        scrapes: list[str] = []

        async def scrape() -> None:
            response = await api.get("/metrics")
            assert response.status_code == 200
            scrapes.append(response.text)

        async def listening() -> bool:
            return container.prompt_cache.enabled

        await wait_until(listening, "the cache listener")
        await scrape()  # before
        await seed(api)
        await put_model(api, "anthropic", "claude-haiku-4-5")
        for _ in range(3):  # a miss, then hits
            assert (await api.get("/v1/prompts/doc_summarizer")).status_code == 200
        assert (await api.post("/v1/executions:run", json=SEED_RUN)).status_code == 200
        demo = {**SEED_RUN, "model": {"provider": "anthropic", "model_name": "claude-haiku-4-5"}}
        ran = (await api.post("/v1/executions:run", json=demo)).json()
        assert ran["served_by"] == "demo"
        stub.script(Reply(status=500))
        assert (await api.post("/v1/executions:run", json=SEED_RUN)).status_code == 502

        gate = threading.Event()
        stub.script(Reply(gate=gate))
        held = (await api.post("/v1/executions:submit", json=SEED_RUN)).json()["execution_id"]
        await container.queue.open()
        await container.queue.app.tasks[RUN_EXECUTION].defer_async(execution_id="not-a-uuid")
        async with running_worker(container, concurrency=2):
            await wait_for_status(api, held, "running")

            async def called() -> bool:
                return stub.calls >= 3  # the held call reached the stub: its job is running

            await wait_until(called, "the held call")

            async def queue_seen() -> bool:  # the gauges' timer has read the held job
                text = (await api.get("/metrics")).text
                return total(text, "promptledger_queue_jobs") != total(
                    scrapes[0], "promptledger_queue_jobs"
                )

            await wait_until(queue_seen, "the queue gauge")
            await scrape()  # during: a job running, the queue holding it
            gate.set()
            await wait_for_status(api, held, "succeeded")

            async def failed_job_counted() -> bool:
                text = (await api.get("/metrics")).text
                return total(text, "promptledger_jobs_failed_total") > total(
                    scrapes[0], "promptledger_jobs_failed_total"
                )

            await wait_until(failed_job_counted, "the failing job")
        await scrape()  # after

    before, *later = scrapes
    still = {
        title: sorted(s for s in chosen if all(total(t, s) == total(before, s) for t in later))
        for title, chosen in selectors.items()
    }
    assert {title: s for title, s in still.items() if s} == {}, "panels that stayed flat"
