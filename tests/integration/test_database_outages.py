"""The ledger through database outages, on a PostgreSQL server these tests start, stop and
restart themselves (never the machine's): a provider answer that arrives while the database is
away is kept and written once it is back, and the first request after a restart does not fail
on a connection the restart closed."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator

import pytest

from prompt_ledger import migrate
from prompt_ledger.testing.postgres import ThrowawayPostgres
from prompt_ledger.testing.stub_llm import Reply, StubLLM
from tests.conftest import create_database
from tests.execution_fixtures import (
    SEED_RUN,
    gateway,
    seed,
    sql_rows,
    stub_settings,
    wait_until,
)

HOLDING = "holding the outcome of execution"
pytestmark = pytest.mark.xdist_group("own-postgres")  # one worker, one server (make test)


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[ThrowawayPostgres]:
    with ThrowawayPostgres() as server:
        yield server


@pytest.fixture
def own_database(own_postgres: ThrowawayPostgres) -> str:
    url = create_database(own_postgres.url, f"pl_outage_{uuid.uuid4().hex[:10]}")
    migrate.upgrade(url)
    return url


@pytest.fixture
def stub() -> Iterator[StubLLM]:
    with StubLLM() as server:
        yield server


async def test_the_first_request_after_a_database_restart_succeeds(
    own_postgres: ThrowawayPostgres, own_database: str
) -> None:
    settings = stub_settings(own_database, None, cache_ttl_seconds=0, db_pool_min_size=2)
    async with gateway(settings) as (_, api):
        await seed(api)
        assert (await api.get("/v1/executions")).status_code == 200  # pooled connections idle

        await asyncio.to_thread(own_postgres.restart)

        response = await api.get("/v1/executions")
        assert response.status_code == 200, response.text
        created = await api.put("/v1/prompts/after_restart", json={"template_source": "hi"})
        assert created.status_code == 201, created.text


async def test_an_answer_that_arrives_while_the_database_is_away_is_kept_and_written(
    own_postgres: ThrowawayPostgres,
    own_database: str,
    stub: StubLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="prompt_ledger.outcomes")
    gate = threading.Event()
    stub.script(Reply(gate=gate))
    async with gateway(stub_settings(own_database, stub, ledger_write_wait_seconds=120)) as (
        _,
        api,
    ):
        await seed(api)
        run = asyncio.create_task(api.post("/v1/executions:run", json=SEED_RUN, timeout=180))
        await wait_until(_called(stub), "the provider to be called")

        await asyncio.to_thread(own_postgres.stop)  # the database goes away mid-call...
        gate.set()  # ...and the provider answers (and bills) while it is away
        await wait_until(_logged(caplog, HOLDING), "the gateway to hold the answer", within=30)
        assert not run.done()
        await asyncio.to_thread(own_postgres.start)

        response = await asyncio.wait_for(run, 60)
    assert response.status_code == 200, response.text
    assert "Ledger-Write" not in response.headers
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["response_text"] == "stub reply to: Summarize:\nYour document text here..."
    [row] = await sql_rows(
        own_database,
        "SELECT e.status, e.prompt_tokens, e.response_tokens, e.cost_usd, a.outcome, "
        "a.cost_unknown, a.prompt_tokens AS attempt_tokens FROM executions e "
        "JOIN execution_attempts a USING (execution_id) WHERE e.execution_id = %s",
        body["execution_id"],
    )
    assert row["status"] == "succeeded"
    assert row["prompt_tokens"]
    assert row["response_tokens"]
    assert row["cost_usd"] is not None
    assert (row["outcome"], row["cost_unknown"]) == ("succeeded", False)
    assert row["attempt_tokens"] == row["prompt_tokens"]
    assert stub.calls == 1


async def test_past_the_wait_the_answer_is_returned_and_written_when_the_database_is_back(
    own_postgres: ThrowawayPostgres,
    own_database: str,
    stub: StubLLM,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="prompt_ledger.outcomes")
    gate = threading.Event()
    stub.script(Reply(gate=gate))
    settings = stub_settings(own_database, stub, ledger_write_wait_seconds=0.5)
    async with gateway(settings) as (container, api):
        await seed(api)
        run = asyncio.create_task(api.post("/v1/executions:run", json=SEED_RUN, timeout=60))
        await wait_until(_called(stub), "the provider to be called")
        await asyncio.to_thread(own_postgres.stop)
        gate.set()
        try:
            response = await asyncio.wait_for(run, 30)
            assert response.status_code == 200, response.text
            assert response.headers["Ledger-Write"] == "pending"
            body = response.json()
            assert body["status"] == "succeeded"
            assert body["response_text"] == "stub reply to: Summarize:\nYour document text here..."
            assert body["prompt_tokens"]
            assert body["cost_usd"] is not None
            assert container.executions.outcomes.pending == 1
        finally:
            await asyncio.to_thread(own_postgres.start)

        async def written() -> list[dict[str, object]]:
            return await sql_rows(
                own_database,
                "SELECT e.status, e.response_text, e.prompt_tokens, a.outcome "
                "FROM executions e JOIN execution_attempts a USING (execution_id) "
                "WHERE e.execution_id = %s AND e.status = 'succeeded'",
                body["execution_id"],
            )

        [row] = await wait_until(written, "the held outcome to be written", within=60)
        assert row["response_text"] == body["response_text"]
        assert row["prompt_tokens"] == body["prompt_tokens"]
        assert row["outcome"] == "succeeded"
        assert container.executions.outcomes.pending == 0
        detail = (await api.get(f"/v1/executions/{body['execution_id']}")).json()
        assert [a["outcome"] for a in detail["provider_attempts"]] == ["succeeded"]
        assert len(detail["spans"]) == 1
    assert stub.calls == 1


async def test_a_held_outcome_whose_running_row_a_crash_lost_writes_the_row_again(
    own_postgres: ThrowawayPostgres, own_database: str, stub: StubLLM
) -> None:
    """The running row commits without waiting for the disk: a crash of the database soon after
    it can lose it. The outcome held meanwhile writes it again, then itself: the ledger keeps
    the answered call."""
    gate = threading.Event()
    stub.script(Reply(gate=gate))
    settings = stub_settings(own_database, stub, ledger_write_wait_seconds=0.5)
    async with gateway(settings) as (container, api):
        await seed(api)
        run = asyncio.create_task(api.post("/v1/executions:run", json=SEED_RUN, timeout=60))
        await wait_until(_called(stub), "the provider to be called")
        # what the crash loses: the running row (and, with it, its inputs and attempt)
        lost = await sql_rows(
            own_database, "DELETE FROM executions WHERE status = 'running' RETURNING execution_id"
        )
        await asyncio.to_thread(own_postgres.stop, "immediate")
        gate.set()
        try:
            response = await asyncio.wait_for(run, 30)
            assert response.status_code == 200, response.text
            assert response.headers["Ledger-Write"] == "pending"
            body = response.json()
            assert [str(row["execution_id"]) for row in lost] == [body["execution_id"]]
        finally:
            await asyncio.to_thread(own_postgres.start)

        async def written() -> list[dict[str, object]]:
            return await sql_rows(
                own_database,
                "SELECT e.status, e.response_text, e.rendered_prompt, a.outcome, i.params_json "
                "FROM executions e JOIN execution_attempts a USING (execution_id) "
                "JOIN execution_inputs i USING (execution_id) "
                "WHERE e.execution_id = %s AND e.status = 'succeeded'",
                body["execution_id"],
            )

        [row] = await wait_until(written, "the held outcome to be written", within=60)
        assert row["response_text"] == body["response_text"]
        assert row["rendered_prompt"] == body["rendered_prompt"]
        assert row["params_json"] == body["params"]
        assert row["outcome"] == "succeeded"
        assert container.executions.outcomes.pending == 0
    assert stub.calls == 1


def _called(stub: StubLLM) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return stub.calls >= 1

    return check


def _logged(caplog: pytest.LogCaptureFixture, text: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return any(text in record.getMessage() for record in caplog.records)

    return check
