"""Asynchronous executions: submission (row and job in one transaction), the real procrastinate
worker with retries against a scripted stub LLM, cancellation, listing, and recovery."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pytest
from prometheus_client import REGISTRY

from prompt_ledger.container import Container
from prompt_ledger.db.store import Database, relaxed_pool
from prompt_ledger.queue import RUN_EXECUTION
from prompt_ledger.testing.stub_llm import Reply, StubLLM
from tests.execution_fixtures import (
    SEED_RUN,
    gateway,
    put_model,
    put_prompt,
    running_worker,
    seed,
    sql_rows,
    sql_value,
    stub_settings,
    wait_for_status,
    wait_until,
)

SUBMIT = "/v1/executions:submit"


@pytest.fixture
def stub() -> Iterator[StubLLM]:
    with StubLLM() as server:
        yield server


@pytest.fixture
async def app(
    database_url: str, stub: StubLLM
) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    async with gateway(stub_settings(database_url, stub, max_attempts=3)) as pair:
        await seed(pair[1])
        yield pair


@pytest.fixture
def container(app: tuple[Container, httpx.AsyncClient]) -> Container:
    return app[0]


@pytest.fixture
def api(app: tuple[Container, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app[1]


async def submit(
    api: httpx.AsyncClient,
    body: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> str:
    response = await api.post(SUBMIT, json=body or SEED_RUN, headers=headers)
    assert response.status_code == 202, response.text
    execution_id: str = response.json()["execution_id"]
    return execution_id


async def job_of(database_url: str, execution_id: str) -> dict[str, Any]:
    rows = await sql_rows(
        database_url,
        "SELECT j.* FROM procrastinate_jobs j JOIN executions e ON e.job_id = j.id "
        "WHERE e.execution_id = %s",
        execution_id,
    )
    assert len(rows) == 1, f"execution {execution_id} has no queue job: {rows}"
    return rows[0]


async def test_submit_commits_the_row_and_its_job_together(
    api: httpx.AsyncClient, container: Container, stub: StubLLM, database_url: str
) -> None:
    response = await api.post(
        SUBMIT, json=SEED_RUN, headers={"X-Correlation-ID": "batch-7", "Idempotency-Key": "s-1"}
    )
    assert response.status_code == 202, response.text
    body = response.json()
    execution_id = body["execution_id"]
    assert response.headers["Location"] == f"/v1/executions/{execution_id}"
    assert body["status"] == "queued"
    assert body["execution_mode"] == "async"
    assert body["attempts"] == 0
    assert body["response_text"] is None

    job = await job_of(database_url, execution_id)
    assert job["status"] == "todo"
    assert job["task_name"] == "run_execution"
    assert job["queue_name"] == "executions"
    assert job["args"] == {"execution_id": execution_id}
    assert stub.calls == 0  # nothing runs without a worker

    replay = await api.post(SUBMIT, json=SEED_RUN, headers={"Idempotency-Key": "s-1"})
    assert replay.status_code == 202
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["execution_id"] == execution_id
    assert await sql_value(database_url, "SELECT count(*) FROM procrastinate_jobs") == 1

    async def no_jobs() -> bool:
        count = await sql_value(database_url, "SELECT count(*) FROM procrastinate_jobs")
        return bool(count == 0)

    async with running_worker(container):
        done = await wait_for_status(api, execution_id, "succeeded", "failed")
        # Successful jobs are deleted (once the task has returned, just after the ledger's
        # write); the ledger keeps the execution.
        await wait_until(no_jobs, "the finished job to be deleted")
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 1
    assert done["served_by"] == "openai"
    assert done["response_text"] == "stub reply to: Summarize:\nYour document text here..."
    assert done["cost_usd"] == "0.00000555"
    assert done["correlation_id"] == "batch-7"
    assert [s["kind"] for s in done["spans"]] == ["llm"]
    assert stub.calls == 1
    assert stub.requests[0]["max_tokens"] == 800


async def test_a_sync_run_with_an_async_key_still_in_flight_is_409(
    api: httpx.AsyncClient, stub: StubLLM
) -> None:
    execution_id = await submit(api, headers={"Idempotency-Key": "shared"})
    response = await api.post(
        "/v1/executions:run", json=SEED_RUN, headers={"Idempotency-Key": "shared"}
    )
    assert response.status_code == 409, response.text
    assert response.json()["execution_id"] == execution_id
    assert response.headers["Retry-After"] == "1"
    assert stub.calls == 0


async def test_refusals_happen_at_submission(
    api: httpx.AsyncClient, stub: StubLLM, database_url: str
) -> None:
    missing = await api.post(SUBMIT, json={**SEED_RUN, "variables": {}})
    assert missing.status_code == 422, missing.text
    assert missing.json()["missing"] == ["text"]
    unknown = await api.post(SUBMIT, json={**SEED_RUN, "prompt_name": "nope"})
    assert unknown.status_code == 404
    assert await sql_value(database_url, "SELECT count(*) FROM executions") == 0
    assert await sql_value(database_url, "SELECT count(*) FROM procrastinate_jobs") == 0


async def test_retry_after_a_429_waits_as_told(
    api: httpx.AsyncClient, container: Container, stub: StubLLM, database_url: str
) -> None:
    stub.script(Reply(status=429, retry_after=1))
    execution_id = await submit(api)
    job_id = (await job_of(database_url, execution_id))["id"]
    async with running_worker(container):

        async def retry_scheduled() -> list[dict[str, Any]]:
            return await sql_rows(
                database_url,
                "SELECT j.scheduled_at, j.attempts, "
                "       (SELECT min(at) FROM procrastinate_events "
                "         WHERE job_id = j.id AND type = 'started') AS first_started "
                "FROM procrastinate_jobs j "
                "WHERE j.id = %s AND j.status = 'todo' AND j.attempts = 1",
                job_id,
            )

        [retry] = await wait_until(retry_scheduled, "the job to be scheduled for a retry")
        # Retry-After: 1 => never sooner than one second after the first attempt started.
        assert retry["scheduled_at"] - retry["first_started"] >= dt.timedelta(seconds=1)
        between = (await api.get(f"/v1/executions/{execution_id}")).json()
        assert between["status"] == "queued"
        assert between["attempts"] == 1
        assert between["error_type"] == "http_429"

        done = await wait_for_status(api, execution_id, "succeeded", "failed")
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2
    assert stub.calls == 2
    completed = dt.datetime.fromisoformat(done["completed_at"])
    assert completed - dt.datetime.fromisoformat(done["started_at"]) >= dt.timedelta(seconds=1)
    assert done["error_type"] is None  # the earlier failure is not the outcome
    assert len(done["spans"]) == 1


async def test_a_retry_is_scheduled_in_absolute_time_whatever_the_session_timezone(
    database_url: str, stub: StubLLM
) -> None:
    """The worker's own pool keeps the options of the database URL (here the session's time
    zone, UTC+9) beside its synchronous_commit, and a Retry-After still waits as told there."""
    separator = "&" if "?" in database_url else "?"  # an embedded server's URL has a query
    tokyo = f"{database_url}{separator}options=-c%20TimeZone%3DAsia/Tokyo"
    stub.script(Reply(status=429, retry_after=2))
    async with gateway(stub_settings(tokyo, stub, max_attempts=3)) as (container, api):
        await seed(api)
        execution_id = await submit(api)
        async with running_worker(container):
            done = await wait_for_status(api, execution_id, "succeeded", "failed")
        async with relaxed_pool(container.db, max_size=1) as pool, pool.connection() as connection:
            shown = await (await connection.execute("SHOW TimeZone")).fetchone()
            assert shown == {"TimeZone": "Asia/Tokyo"}
    assert (done["status"], done["attempts"]) == ("succeeded", 2)
    completed = dt.datetime.fromisoformat(done["completed_at"])
    assert completed - dt.datetime.fromisoformat(done["started_at"]) >= dt.timedelta(seconds=2)


async def test_a_5xx_is_retried(
    api: httpx.AsyncClient, container: Container, stub: StubLLM
) -> None:
    stub.script(Reply(status=500), Reply(status=503))
    execution_id = await submit(api)
    async with running_worker(container):
        done = await wait_for_status(api, execution_id, "succeeded", "failed")
    assert (done["status"], done["attempts"], stub.calls) == ("succeeded", 3, 3)
    attempts = done["provider_attempts"]
    assert [(a["attempt_number"], a["outcome"]) for a in attempts] == [
        (1, "failed"),
        (2, "failed"),
        (3, "succeeded"),
    ]
    assert [a["error_type"] for a in attempts] == ["http_500", "http_503", None]


def job_metrics() -> dict[str, float]:
    """The worker's job metrics (queue.measure_job) for the execution task."""
    task = {"task": RUN_EXECUTION}
    samples = {
        **{
            status: ("promptledger_jobs_total", {**task, "status": status})
            for status in ("succeeded", "retried", "failed")
        },
        "raised": ("promptledger_jobs_failed_total", task),
        "timed": ("promptledger_jobs_duration_seconds_count", task),
        "slow": ("promptledger_jobs_duration_seconds_bucket", {**task, "le": "+Inf"}),
        "fast": ("promptledger_jobs_duration_seconds_bucket", {**task, "le": "30.0"}),
        "running": ("promptledger_active_jobs", task),
    }
    return {key: REGISTRY.get_sample_value(*sample) or 0.0 for key, sample in samples.items()}


async def test_the_worker_counts_its_jobs_by_outcome(
    api: httpx.AsyncClient, container: Container, stub: StubLLM, database_url: str
) -> None:
    """Each job is counted once by how it ended (a RetryLater is 'retried', anything else it
    raises 'failed'), timed, and the gauge of running jobs goes back to zero."""
    before = job_metrics()
    stub.script(Reply(status=500))
    execution_id = await submit(api)
    await container.queue.open()
    broken = await container.queue.app.tasks[RUN_EXECUTION].defer_async(execution_id="nope")
    async with running_worker(container):
        done = await wait_for_status(api, execution_id, "succeeded", "failed")

        async def broken_job_failed() -> list[dict[str, Any]]:
            return await sql_rows(
                database_url,
                "SELECT id FROM procrastinate_jobs WHERE id = %s AND status = 'failed'",
                broken,
            )

        await wait_until(broken_job_failed, "the job with a bad argument to fail")
    assert (done["status"], done["attempts"]) == ("succeeded", 2)
    after = job_metrics()
    moved = {key: after[key] - before[key] for key in after}
    assert moved == {
        "succeeded": 1,
        "retried": 1,
        "failed": 1,
        "raised": 1,
        "timed": 3,
        "slow": 3,
        "fast": 3,  # each well under 30 s (a start time added, not subtracted, is decades)
        "running": 0,
    }


async def test_a_permanent_failure_fails_at_once(
    api: httpx.AsyncClient, container: Container, stub: StubLLM, database_url: str
) -> None:
    stub.script(Reply(status=401))
    execution_id = await submit(api)
    async with running_worker(container):
        done = await wait_for_status(api, execution_id, "succeeded", "failed")
    assert done["status"] == "failed"
    assert done["attempts"] == 1
    assert done["error_type"] == "http_401"
    assert done["completed_at"] is not None
    assert [s["status"] for s in done["spans"]] == ["error"]
    assert stub.calls == 1


async def test_attempts_are_bounded(
    api: httpx.AsyncClient, container: Container, stub: StubLLM
) -> None:
    stub.script(*[Reply(status=500)] * 5)
    execution_id = await submit(api)
    async with running_worker(container):
        done = await wait_for_status(api, execution_id, "succeeded", "failed")
    assert done["status"] == "failed"
    assert done["attempts"] == 3  # max_attempts
    assert done["error_type"] == "http_500"
    assert stub.calls == 3


async def test_a_timeout_is_retried(database_url: str, stub: StubLLM) -> None:
    settings = stub_settings(database_url, stub, provider_timeout=0.3, max_attempts=2)
    stub.script(Reply(hang=True))
    async with gateway(settings) as (container, api):
        await seed(api)
        execution_id = await submit(api)
        async with running_worker(container):
            done = await wait_for_status(api, execution_id, "succeeded", "failed")
    assert (done["status"], done["attempts"]) == ("succeeded", 2)


async def test_cancel_a_queued_execution(
    api: httpx.AsyncClient, container: Container, stub: StubLLM, database_url: str
) -> None:
    cancelled_id = await submit(api)
    response = await api.post(f"/v1/executions/{cancelled_id}:cancel")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["completed_at"] is not None
    assert (await job_of(database_url, cancelled_id))["status"] == "cancelled"

    again = await api.post(f"/v1/executions/{cancelled_id}:cancel")
    assert again.status_code == 409
    assert again.json()["status_now"] == "cancelled"

    # A later execution runs; the cancelled one never reaches the provider.
    later_id = await submit(api, {**SEED_RUN, "variables": {"text": "later"}})
    async with running_worker(container):
        await wait_for_status(api, later_id, "succeeded")
    assert stub.calls == 1
    assert stub.requests[0]["messages"][0]["content"] == "Summarize:\nlater"
    final = (await api.get(f"/v1/executions/{cancelled_id}")).json()
    assert (final["status"], final["attempts"], final["spans"]) == ("cancelled", 0, [])


async def test_finished_executions_cannot_be_cancelled(
    api: httpx.AsyncClient, stub: StubLLM
) -> None:
    done = (await api.post("/v1/executions:run", json=SEED_RUN)).json()
    response = await api.post(f"/v1/executions/{done['execution_id']}:cancel")
    assert response.status_code == 409, response.text
    assert response.json()["status_now"] == "succeeded"
    unknown = await api.post("/v1/executions/00000000-0000-0000-0000-000000000000:cancel")
    assert unknown.status_code == 404
    assert (await api.get(f"/v1/executions/{done['execution_id']}")).json()["status"] == (
        "succeeded"
    )


async def test_list_filters_and_cursor_pagination(api: httpx.AsyncClient, stub: StubLLM) -> None:
    await put_prompt(api, "other", template_source="Other {{text}}")
    stub.script(Reply(), Reply(status=401))
    ran = [
        (await api.post("/v1/executions:run", json=SEED_RUN, headers={"X-Correlation-ID": "c1"}))
        for _ in range(2)
    ]
    assert [r.status_code for r in ran] == [200, 502]
    queued = [await submit(api) for _ in range(3)]
    other = [
        await submit(api, {**SEED_RUN, "prompt_name": "other"}, headers={"X-Correlation-ID": "c2"})
        for _ in range(2)
    ]

    async def ids(**params: Any) -> list[str]:
        response = await api.get("/v1/executions", params=params)
        assert response.status_code == 200, response.text
        return [e["execution_id"] for e in response.json()["items"]]

    everything = await ids()
    assert len(everything) == 7
    assert everything[:5] == [*reversed(other), *reversed(queued)]  # newest first
    assert await ids(status="queued") == [*reversed(other), *reversed(queued)]
    assert len(await ids(status="succeeded")) == 1
    assert len(await ids(status="failed")) == 1
    assert await ids(prompt_name="other") == list(reversed(other))
    assert await ids(correlation_id="c2") == list(reversed(other))
    assert len(await ids(correlation_id="c1")) == 2
    assert await ids(prompt_name="other", status="failed") == []
    assert len(await ids(provider="openai", model_name="gpt-4o-mini", version=1)) == 7

    pages: list[list[str]] = []
    cursor: str | None = None
    for _page in range(20):  # a cursor that never ends fails, not hangs
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await api.get("/v1/executions", params=params)).json()
        pages.append([e["execution_id"] for e in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    else:
        pytest.fail("still a next_cursor after 20 pages")
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == everything
    # Listings carry no inputs; the single-execution view does.
    listed = (await api.get("/v1/executions", params={"limit": 1})).json()["items"][0]
    assert listed["variables"] is None

    for bad in ("not-a-cursor", "eyJ4IjogMX0"):
        response = await api.get("/v1/executions", params={"cursor": bad})
        assert response.status_code == 422, response.text


# --- recovery -----------------------------------------------------------------------------------


async def age(database_url: str, execution_id: str, seconds: int = 3600) -> None:
    await sql_rows(
        database_url,
        "UPDATE executions SET created_at = created_at - make_interval(secs => %s), "
        "started_at = started_at - make_interval(secs => %s) WHERE execution_id = %s "
        "RETURNING execution_id",
        seconds,
        seconds,
        execution_id,
    )


async def test_recover_requeues_an_execution_that_lost_its_job(
    api: httpx.AsyncClient, container: Container, stub: StubLLM, database_url: str
) -> None:
    execution_id = await submit(api)
    job = await job_of(database_url, execution_id)
    await sql_rows(
        database_url, "DELETE FROM procrastinate_jobs WHERE id = %s RETURNING id", job["id"]
    )
    # Too young to be called an orphan.
    assert (await container.maintenance.recover()).orphans_requeued == 0
    await age(database_url, execution_id)
    report = await container.maintenance.recover()
    assert report.orphans_requeued == 1
    new_job = await job_of(database_url, execution_id)
    assert new_job["id"] != job["id"]
    assert new_job["status"] == "todo"
    assert (await container.maintenance.recover()).orphans_requeued == 0  # it has a job now
    async with running_worker(container):
        done = await wait_for_status(api, execution_id, "succeeded", "failed")
    assert (done["status"], done["attempts"], stub.calls) == ("succeeded", 1, 1)


async def test_recover_requeues_a_running_execution_whose_job_failed(
    api: httpx.AsyncClient, container: Container, stub: StubLLM, database_url: str
) -> None:
    # As left by an unexpected error mid-attempt: the job failed, the execution still running.
    execution_id = await submit(api)
    await sql_rows(
        database_url,
        "WITH e AS (UPDATE executions SET status = 'running', attempts = 1, started_at = now() "
        "           WHERE execution_id = %s RETURNING job_id) "
        "UPDATE procrastinate_jobs SET status = 'failed' WHERE id = (SELECT job_id FROM e) "
        "RETURNING id",
        execution_id,
    )
    await age(database_url, execution_id)
    assert (await container.maintenance.recover()).orphans_requeued == 1
    async with running_worker(container):
        done = await wait_for_status(api, execution_id, "succeeded", "failed")
    assert (done["status"], done["attempts"], stub.calls) == ("succeeded", 2, 1)


async def test_a_stalled_job_is_retried(
    api: httpx.AsyncClient, container: Container, stub: StubLLM, database_url: str
) -> None:
    # What a worker killed mid-call leaves: its job 'doing', its heartbeat old, the execution
    # running (tests/acceptance/test_worker_recovery.py kills a real worker process).
    execution_id = await submit(api)
    await sql_rows(
        database_url,
        "WITH w AS (INSERT INTO procrastinate_workers (last_heartbeat) "
        "           VALUES (now() - interval '1 hour') RETURNING id), "
        "     e AS (UPDATE executions SET status = 'running', attempts = 1, started_at = now() "
        "           WHERE execution_id = %s RETURNING job_id) "
        "UPDATE procrastinate_jobs SET status = 'doing', worker_id = (SELECT id FROM w) "
        "WHERE id = (SELECT job_id FROM e) RETURNING id",
        execution_id,
    )
    report = await container.maintenance.recover()
    assert report.stalled_jobs_retried == 1
    assert report.orphans_requeued == 0
    async with running_worker(container):
        done = await wait_for_status(api, execution_id, "succeeded", "failed")
    assert (done["status"], done["attempts"], stub.calls) == ("succeeded", 2, 1)


async def test_two_jobs_of_one_execution_never_run_together(
    api: httpx.AsyncClient, container: Container, stub: StubLLM, database_url: str
) -> None:
    # Say two recoveries raced and each re-queued it: the jobs share a lock, so the second
    # runs after the first and finds the execution finished.
    stub.latency = 0.3
    execution_id = await submit(api)
    async with container.db.transaction() as q:
        await container.queue.defer_execution(q, UUID(execution_id))
    async with running_worker(container, concurrency=4):
        done = await wait_for_status(api, execution_id, "succeeded", "failed")

        async def both_jobs_done() -> bool:
            left = await sql_value(database_url, "SELECT count(*) FROM procrastinate_jobs")
            return bool(left == 0)

        await wait_until(both_jobs_done, "both jobs to finish")
    assert (done["status"], done["attempts"], stub.calls) == ("succeeded", 1, 1)
    final = (await api.get(f"/v1/executions/{execution_id}")).json()
    assert (final["attempts"], len(final["spans"])) == (1, 1)


async def test_an_execution_past_its_attempts_is_failed_not_rerun(
    api: httpx.AsyncClient, container: Container, stub: StubLLM, database_url: str
) -> None:
    # Its last allowed attempt never finished (say the worker was killed each time).
    execution_id = await submit(api)
    await sql_rows(
        database_url,
        "UPDATE executions SET status = 'running', attempts = 3, started_at = now() "
        "WHERE execution_id = %s RETURNING execution_id",
        execution_id,
    )
    async with running_worker(container):
        done = await wait_for_status(api, execution_id, "succeeded", "failed")
    assert done["status"] == "failed"
    assert done["error_type"] == "attempts_exhausted"
    assert stub.calls == 0
    assert done["provider_attempts"] == []  # no call was made, so none is recorded


async def test_recover_fails_abandoned_sync_runs(
    api: httpx.AsyncClient, container: Container, stub: StubLLM, database_url: str
) -> None:
    finished = (await api.post("/v1/executions:run", json=SEED_RUN)).json()
    stuck = (await api.post("/v1/executions:run", json=SEED_RUN)).json()
    recent = (await api.post("/v1/executions:run", json=SEED_RUN)).json()
    for execution in (stuck, recent):  # as if its server died mid-call
        await sql_rows(
            database_url,
            "WITH a AS (UPDATE execution_attempts SET outcome = 'calling', finished_at = NULL, "
            "                 cost_usd = NULL, prompt_tokens = NULL, response_tokens = NULL "
            "           WHERE execution_id = %s) "
            "UPDATE executions SET status = 'running', completed_at = NULL "
            "WHERE execution_id = %s RETURNING execution_id",
            execution["execution_id"],
            execution["execution_id"],
        )
    await age(database_url, finished["execution_id"])
    await age(database_url, stuck["execution_id"])
    report = await container.maintenance.recover()
    assert report.abandoned_sync_runs == 1
    got = (await api.get(f"/v1/executions/{stuck['execution_id']}")).json()
    assert (got["status"], got["error_type"]) == ("failed", "abandoned")
    assert got["completed_at"] is not None
    [attempt] = got["provider_attempts"]  # the call may have been made: in the ledger as lost
    assert (attempt["outcome"], attempt["cost_unknown"], attempt["cost_usd"]) == (
        "lost",
        True,
        None,
    )
    assert (await api.get(f"/v1/executions/{recent['execution_id']}")).json()["status"] == (
        "running"
    )
    assert (await api.get(f"/v1/executions/{finished['execution_id']}")).json()["status"] == (
        "succeeded"
    )


async def test_only_the_queue_bookkeeping_pool_commits_without_waiting_for_the_disk(
    database_url: str,
) -> None:
    db = Database(database_url)
    pool = relaxed_pool(db, max_size=1)
    await pool.open(wait=True)
    try:
        async with pool.connection() as connection:
            shown = await (await connection.execute("SHOW synchronous_commit")).fetchone()
            assert shown == {"synchronous_commit": "off"}
    finally:
        await pool.close()
    try:
        async with db.connect() as q:  # the ledger's pool: durable
            shown = await (await q.connection.execute("SHOW synchronous_commit")).fetchone()
            assert shown == {"synchronous_commit": "on"}
    finally:
        await db.close()


# --- the price snapshot and pruning --------------------------------------------------------------


async def test_a_queued_execution_is_charged_at_the_prices_of_its_submission(
    api: httpx.AsyncClient, container: Container, stub: StubLLM
) -> None:
    """The ledger snapshots the model's prices when the execution is accepted; a price change
    while it waits in the queue does not change what it costs."""
    execution_id = await submit(api)
    await put_model(api, input_price_per_mtok=1.0, output_price_per_mtok=2.0)
    async with running_worker(container):
        done = await wait_for_status(api, execution_id, "succeeded", "failed")
    assert done["status"] == "succeeded", done
    assert Decimal(done["input_price_per_mtok"]) == Decimal("0.15")
    assert Decimal(done["output_price_per_mtok"]) == Decimal("0.6")
    assert done["cost_usd"] == "0.00000555"  # 5 x 0.15 + 8 x 0.6 per million, not 0.000021
    later = await submit(api)
    async with running_worker(container):
        assert (await wait_for_status(api, later, "succeeded"))["cost_usd"] == "0.00002100"


async def test_prune_deletes_old_finished_jobs_and_past_rate_counts(
    api: httpx.AsyncClient, container: Container, database_url: str
) -> None:
    # every final state goes once past the retention period: failed, cancelled, aborted
    finished = {status: await submit(api) for status in ("failed", "cancelled", "aborted")}
    recent, waiting = [await submit(api) for _ in range(2)]
    executions = [*finished.values(), recent, waiting]
    jobs = {e: (await job_of(database_url, e))["id"] for e in executions}
    for status, execution_id in [*finished.items(), ("failed", recent)]:
        await sql_rows(
            database_url,
            "UPDATE procrastinate_jobs SET status = %s WHERE id = %s RETURNING id",
            status,
            jobs[execution_id],
        )
    retention = container.settings.job_retention_hours
    await sql_rows(
        database_url,
        "UPDATE procrastinate_events SET at = now() - make_interval(hours => %s + 1) "
        "WHERE job_id = ANY(%s) RETURNING id",
        retention,
        [jobs[e] for e in finished.values()],
    )
    key = await api.post(
        "/v1/projects/00000000-0000-0000-0000-000000000001/keys",
        json={"name": "counted", "scopes": ["prompts:read"]},
    )
    key_id = key.json()["key_id"]
    await sql_rows(
        database_url,
        "INSERT INTO rate_limit_counts (key_id, kind, window_start, count) VALUES "
        "(%s, 'requests', date_trunc('minute', now()) - interval '1 minute', 5), "
        "(%s, 'requests', date_trunc('minute', now()), 3) RETURNING count",
        key_id,
        key_id,
    )

    await container.maintenance.prune()

    left = await sql_rows(database_url, "SELECT id, status::text FROM procrastinate_jobs")
    assert sorted((r["id"], r["status"]) for r in left) == sorted(
        [(jobs[recent], "failed"), (jobs[waiting], "todo")]
    )
    counts = await sql_rows(database_url, "SELECT count FROM rate_limit_counts")
    assert [r["count"] for r in counts] == [3]  # this minute's count stays
    # The ledger keeps every execution, pruned job or not.
    for execution_id in executions:
        assert (await api.get(f"/v1/executions/{execution_id}")).status_code == 200
