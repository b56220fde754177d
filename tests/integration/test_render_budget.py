"""Issue #11, failure 1: one stored template must not freeze a shared process. Renders run off
the event loop within a budget of steps (loop iterations, calls) and wall-clock time, through
every path that renders: :render, :run, :submit and the worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from prompt_ledger.container import Container
from prompt_ledger.testing.stub_llm import StubLLM
from tests.execution_fixtures import (
    SEED_RUN,
    gateway,
    put_prompt,
    running_worker,
    seed,
    stub_settings,
    wait_for_status,
    wait_until,
)

# The bombs, verbatim, and the same with the depth given at render time.
MACRO_BOMB = (
    "{% macro f(n) %}{% if n > 0 %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(21) }}"
)
LOOP_BOMB = "{% for a in 'x'*100000 %}{% for b in 'x'*100000 %}{% endfor %}{% endfor %}"
DEFERRED_BOMB = MACRO_BOMB.replace("f(21)", "f(depth)")
BOMB_RUN: dict[str, Any] = {**SEED_RUN, "prompt_name": "bomb", "variables": {"depth": 21}}


@pytest.fixture
def stub() -> Iterator[StubLLM]:
    with StubLLM() as server:
        yield server


@pytest.fixture
async def app(
    database_url: str, stub: StubLLM
) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    # A generous time budget here: the step budget stops the bombs on any machine.
    settings = stub_settings(database_url, stub, template_render_seconds=30.0)
    async with gateway(settings) as pair:
        await seed(pair[1])
        await put_prompt(pair[1], "bomb", template_source=DEFERRED_BOMB, set_active=True)
        yield pair


@pytest.fixture
def api(app: tuple[Container, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app[1]


def renders_running() -> float:
    return REGISTRY.get_sample_value("promptledger_template_renders_running") or 0.0


@pytest.mark.parametrize("bomb", [MACRO_BOMB, LOOP_BOMB], ids=["macros", "loops"])
async def test_a_bomb_that_needs_no_variable_is_refused_at_save(
    api: httpx.AsyncClient, bomb: str
) -> None:
    response = await api.put("/v1/prompts/bomb2", json={"template_source": bomb})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["type"].endswith("/template")
    assert "exceeded its render budget" in problem["detail"]
    assert "every render would be refused" in problem["detail"]
    assert (await api.get("/v1/prompts/bomb2")).status_code == 404


async def test_render_is_stopped_and_the_process_keeps_answering(
    api: httpx.AsyncClient,
) -> None:
    rendering = asyncio.create_task(
        api.post("/v1/prompts/bomb:render", json={"variables": {"depth": 21}})
    )
    await wait_until(
        lambda: asyncio.sleep(0, renders_running() > 0 or rendering.done()), "the bomb to render"
    )
    assert not rendering.done(), (await rendering).text
    livez = await api.get("/livez")  # answered while the bomb is still rendering
    assert livez.status_code == 200
    other = await api.post("/v1/prompts/doc_summarizer:render", json={"variables": {"text": "t"}})
    assert other.status_code == 200, other.text
    assert renders_running() > 0
    assert not rendering.done()
    response = await rendering
    assert response.status_code == 422, response.text
    assert "exceeded its render budget" in response.json()["detail"]


async def test_run_refuses_the_bomb_before_calling_the_provider(
    api: httpx.AsyncClient, stub: StubLLM
) -> None:
    response = await api.post("/v1/executions:run", json=BOMB_RUN)
    assert response.status_code == 422, response.text
    assert "exceeded its render budget" in response.json()["detail"]
    assert stub.requests == []


async def test_submit_fails_the_bomb_in_the_worker_which_keeps_working(
    api: httpx.AsyncClient, stub: StubLLM, database_url: str
) -> None:
    refused = await api.post("/v1/executions:submit", json=BOMB_RUN)
    assert refused.status_code == 422, refused.text  # the submit renders first: refused there
    # Depth 16 stays within the step budget (2**17 calls) but takes far longer than the
    # worker's 50 ms time budget below: accepted here, stopped by the worker.
    accepted = await api.post(
        "/v1/executions:submit", json={**BOMB_RUN, "variables": {"depth": 16}}
    )
    assert accepted.status_code == 202, accepted.text
    worker = Container(stub_settings(database_url, stub, template_render_seconds=0.05))
    await worker.open()
    try:
        async with running_worker(worker):
            normal = await api.post("/v1/executions:submit", json=SEED_RUN)
            assert normal.status_code == 202, normal.text
            done = await wait_for_status(api, normal.json()["execution_id"], "succeeded")
            assert done["response_text"]
            failed = await wait_for_status(api, accepted.json()["execution_id"], "failed")
    finally:
        await worker.aclose()
    assert failed["error_type"] == "render"
    assert "exceeded its render budget" in failed["error_message"]
    assert len(stub.requests) == 1  # only the normal execution reached the provider
