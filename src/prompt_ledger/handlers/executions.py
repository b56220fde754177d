"""Executions endpoints: run (sync), submit (async), poll, list, cancel."""

from __future__ import annotations

from collections.abc import Callable

from prompt_ledger.auth import Scope
from prompt_ledger.bodies_executions import (
    ExecutionDetail,
    ExecutionListQuery,
    ExecutionPage,
    RunBody,
)
from prompt_ledger.errors import ValidationFailed
from prompt_ledger.handlers.common import path_uuid
from prompt_ledger.http.endpoint import Call, Endpoint, Reply
from prompt_ledger.http.events import EventStream
from prompt_ledger.services.outcomes import Trace
from prompt_ledger.services.streams import Replayed, sse


def _header(call: Call, name: str, limit: int) -> str | None:
    """A header value, refused (422, like the same body field) when longer than ``limit``:
    never cut, since a truncated key could replay another request's execution."""
    value = (call.request.headers.get(name) or "").strip()
    if len(value) > limit:
        raise ValidationFailed(
            f"The {name} header is longer than {limit} characters.",
            errors=[
                {
                    "loc": ["header", name],
                    "msg": f"String should have at most {limit} characters",
                    "type": "string_too_long",
                }
            ],
        )
    return value or None


async def run(call: Call) -> Reply:
    body = call.body_as(RunBody)
    if body.stream:
        return await run_streamed(call, body)
    outcome = await call.app.executions.run(
        call.principal,
        body.asked(),
        idempotency_key=_header(call, "idempotency-key", 255),
        correlation_id=_header(call, "x-correlation-id", 100),
        trace=Trace.from_traceparent(call.request.headers.get("traceparent")),
    )
    call.timings["provider"] = outcome.provider_seconds
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    if outcome.ledger_pending:  # answered; the database will record it when it is back
        headers["Ledger-Write"] = "pending"
    return Reply(outcome.execution, headers=headers)


async def run_streamed(call: Call, body: RunBody) -> Reply:
    """Server-Sent Events: ``started``, ``delta``s, then ``done`` (the execution) or ``error``;
    a replayed Idempotency-Key answers its finished execution as one ``done`` event."""
    live = await call.app.streams.start(
        call.principal,
        body.asked(),
        idempotency_key=_header(call, "idempotency-key", 255),
        correlation_id=_header(call, "x-correlation-id", 100),
        trace=Trace.from_traceparent(call.request.headers.get("traceparent")),
    )
    if isinstance(live, Replayed):
        done = sse("done", live.execution)

        async def replay(emit: Callable[[bytes], None]) -> None:
            emit(done)

        return Reply(EventStream(replay), headers={"Idempotent-Replayed": "true"})
    return Reply(EventStream(live.pump), headers={"Execution-Id": str(live.execution_id)})


async def submit(call: Call) -> Reply:
    body = call.body_as(RunBody)
    if body.stream:
        raise ValidationFailed(
            "Only POST /v1/executions:run streams; a submitted execution is polled.",
            errors=[{"loc": ["body", "stream"], "msg": "not with :submit", "type": "stream"}],
        )
    execution, replayed = await call.app.executions.submit(
        call.principal,
        body.asked(),
        idempotency_key=_header(call, "idempotency-key", 255),
        correlation_id=_header(call, "x-correlation-id", 100),
        trace=Trace.from_traceparent(call.request.headers.get("traceparent")),
    )
    headers = {"Location": f"/v1/executions/{execution.execution_id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Reply(execution, status=202, headers=headers)


async def get(call: Call) -> Reply:
    return Reply(
        await call.app.executions.get(call.principal, path_uuid(call, "execution_id", "Execution"))
    )


async def list_executions(call: Call) -> Reply:
    return Reply(
        await call.app.executions.list(call.principal, call.query_as(ExecutionListQuery).asked())
    )


async def cancel(call: Call) -> Reply:
    return Reply(
        await call.app.executions.cancel(
            call.principal, path_uuid(call, "execution_id", "Execution"), call.app.queue.cancel_job
        )
    )


EXECUTE, READ = Scope.EXECUTE, Scope.PROMPTS_READ

ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/executions:run",
        run,
        "Run a prompt synchronously",
        EXECUTE,
        body=RunBody,
        response=ExecutionDetail,
        tag="executions",
        executes=True,
        streams=True,
    ),
    Endpoint(
        "POST",
        "/v1/executions:submit",
        submit,
        "Submit an execution to the queue (202; durably accepted)",
        EXECUTE,
        body=RunBody,
        response=ExecutionDetail,
        status=202,
        tag="executions",
        executes=True,
    ),
    Endpoint(
        "GET",
        "/v1/executions",
        list_executions,
        "List executions",
        READ,
        query=ExecutionListQuery,
        response=ExecutionPage,
        tag="executions",
    ),
    Endpoint(
        "GET",
        "/v1/executions/{execution_id}",
        get,
        "Get an execution (poll)",
        READ,
        response=ExecutionDetail,
        tag="executions",
    ),
    Endpoint(
        "POST",
        "/v1/executions/{execution_id}:cancel",
        cancel,
        "Cancel a queued execution",
        EXECUTE,
        response=ExecutionDetail,
        tag="executions",
    ),
]
