"""``ledger.traces``: spans recorded by context managers and decorators reach the server in the
background, executions join the open span's trace, and recording never blocks or raises."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from prompt_ledger import PromptLedger, Traces
from tests.live_gateway import DEV_KEY, free_port_url


def test_spans_of_a_trace_and_an_execution_form_one_tree(ledger: PromptLedger) -> None:
    ledger.create_prompt(name="greet", template="Hello {{name}}")
    tracer = ledger.traces
    tracer.service = "shop"

    @tracer.span("lookup", kind="tool")
    def lookup(user: str) -> str:
        return user.upper()

    with tracer.trace("checkout", user="ada") as root:
        assert lookup("ada") == "ADA"
        with tracer.span("search", kind="retrieval") as search:
            search.set("documents", 3)
        executed = ledger.execute("greet", {"name": "Ada"})
        assert tracer.traceparent() == root.traceparent
    assert executed.trace_id == root.trace_id  # the execution joined the trace
    assert tracer.flush(timeout=20)
    assert (tracer.sent, tracer.dropped, tracer.failed) == (3, 0, 0)

    tree = ledger.get_trace(root.trace_id)
    assert [(s.name, s.depth, s.kind) for s in tree.spans] == [
        ("checkout", 0, "internal"),
        ("lookup", 1, "tool"),
        ("search", 1, "retrieval"),
        ("llm.completion", 1, "llm"),
    ]
    assert tree.spans[0].attributes == {"user": "ada"}
    assert tree.spans[2]["attributes"] == {"documents": 3}
    assert tree.spans[3].execution_id == executed.execution_id
    assert tree.services == ["shop"]
    listed = ledger.list_traces(service="shop")
    assert [t.trace_id for t in listed.items] == [root.trace_id]


def test_a_failing_block_is_an_error_span_and_the_error_still_raises(
    ledger: PromptLedger,
) -> None:
    tracer = ledger.traces

    @tracer.trace("job")
    async def job() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError):
        asyncio.run(job())
    assert tracer.flush(timeout=20)
    [trace] = ledger.list_traces(has_error=True).items
    tree = ledger.get_trace(trace.trace_id)
    assert (tree.spans[0].status, tree.spans[0].error_message) == ("error", "KeyError: 'missing'")


def test_an_unreachable_server_never_reaches_the_application() -> None:
    tracer = Traces(free_port_url(), {"X-API-Key": DEV_KEY}, flush_interval=0.01, timeout=1)
    with tracer.trace("offline"):
        pass
    assert tracer.flush(timeout=20)
    assert (tracer.sent, tracer.failed) == (0, 1)
    tracer.close()
    with tracer.trace("after close"):  # recorded after close: dropped, counted
        pass
    assert tracer.dropped == 1


def test_a_full_buffer_drops_spans_and_counts_them() -> None:
    entered, release = threading.Event(), threading.Event()
    received: list[int] = []

    def server(request: httpx.Request) -> httpx.Response:  # a slow server, at the HTTP port
        entered.set()
        release.wait(20)
        received.append(len(request.read()))
        return httpx.Response(202, json={"status": "accepted"})

    tracer = Traces(
        "http://ledger.test",
        {"X-API-Key": DEV_KEY},
        max_buffer=2,
        batch_size=1,
        flush_interval=0.01,
        transport=httpx.MockTransport(server),
    )
    with tracer.span("first"):
        pass
    assert entered.wait(20)  # the sender holds "first" and waits for the server
    for i in range(4):
        with tracer.span(f"more-{i}"):  # never blocks: 2 buffered, 2 dropped
            pass
    assert tracer.dropped == 2
    release.set()
    assert tracer.flush(timeout=20)
    assert (tracer.sent, tracer.dropped, len(received)) == (3, 2, 3)
    tracer.close()
