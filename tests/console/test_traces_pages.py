"""The console's trace pages over raw HTTP: the list with the API's filters, one trace as a
waterfall joining an application's spans and an execution's, and who may see them."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
from markupsafe import escape

from tests.console.conftest import Visitor, VisitorFactory, make_key, put_prompt, seed_model
from tests.console.sample_traces import TRACE, TRACEPARENT, checkout_trace, seed_trace


async def send(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    sent = await client.post("/v1/traces", json=body)
    assert sent.status_code == 202, sent.text


def trace_links(page: httpx.Response) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'<a href="/traces/([^"]+)">', page.text)]


async def test_no_traces_yet_says_how_to_send_one(visitor: Visitor) -> None:
    page = await visitor.get("/traces")
    assert page.status_code == 200
    assert "No traces yet" in page.text
    assert 'curl -X POST "http://testserver/v1/traces"' in page.text
    assert "traceparent" in page.text


async def test_the_trace_list_filters_like_the_api(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    await seed_model(client)
    await put_prompt(client, "checkout_helper", "Help with {{item}}")
    await send(client, seed_trace())
    await send(client, checkout_trace())
    ran = await client.post(
        "/v1/executions:run",
        json={"prompt_name": "checkout_helper", "variables": {"item": "shoes"}},
        headers={"traceparent": TRACEPARENT},
    )
    assert ran.status_code == 200, ran.text

    everything = await visitor.get("/traces")
    assert sorted(trace_links(everything)) == sorted([TRACE, "test-production-123"])
    assert trace_links(await visitor.get("/traces?service=test-service")) == ["test-production-123"]
    assert trace_links(await visitor.get("/traces?status=error")) == [TRACE]
    assert trace_links(await visitor.get("/traces?has_error=false")) == ["test-production-123"]
    assert trace_links(await visitor.get("/traces?prompt_name=checkout_helper")) == [TRACE]
    assert trace_links(await visitor.get("/traces?min_duration_ms=1500")) == [TRACE]
    # empty fields are no filter; a filter matching nothing says so
    assert len(trace_links(await visitor.get("/traces?service=&status=&has_error="))) == 2
    none = await visitor.get("/traces?service=nobody")
    assert "No trace matches these filters" in none.text
    bad = await visitor.get("/traces?min_duration_ms=-1")
    assert bad.status_code == 422
    assert "query.min_duration_ms" in bad.text


async def test_the_trace_list_pages_with_a_cursor(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    for i in range(3):
        body = seed_trace() | {"trace_id": f"t-{i}"}
        body["spans"] = [s | {"trace_id": f"t-{i}"} for s in body["spans"]]
        await send(client, body)
    first = await visitor.get("/traces?limit=2")
    assert len(trace_links(first)) == 2
    following = re.search(r'href="(/traces\?limit=2&amp;cursor=[^"]+)"', first.text)
    assert following is not None
    second = await visitor.get(html.unescape(following.group(1)))
    assert len(trace_links(second)) == 1
    assert set(trace_links(first)) | set(trace_links(second)) == {"t-0", "t-1", "t-2"}


async def test_the_waterfall_nests_the_execution_under_the_callers_span(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    await seed_model(client)
    await put_prompt(client, "checkout_helper", "Help with {{item}}")
    await send(client, checkout_trace())
    ran = await client.post(
        "/v1/executions:run",
        json={"prompt_name": "checkout_helper", "variables": {"item": "shoes"}},
        headers={"traceparent": TRACEPARENT},
    )
    execution_id = ran.json()["execution_id"]

    page = await visitor.get(f"/traces/{TRACE}")
    assert page.status_code == 200
    rows = re.findall(
        r'<td class="name depth-(\d+)[^"]*">\s*<a href="#span-\d+"[^>]*>([^<]+)</a>', page.text
    )
    names = [name for _, name in rows]
    assert names[0] == "POST /checkout"
    depths = {name: int(depth) for depth, name in rows}
    assert depths["POST /checkout"] == 0
    assert depths["charge card"] == 1
    llm = [name for name in names if name not in ("POST /checkout", "charge card")]
    assert len(llm) == 1
    assert depths[llm[0]] == 1  # our execution's span, under the caller's span
    assert f'href="/executions/{execution_id}"' in page.text
    assert 'href="/prompts/checkout_helper/versions/1"' in page.text
    assert "card declined" in page.text
    # bars on one axis: the root spans the whole trace
    bars = re.findall(r'<rect class="bar ([^"]*)" x="([\d.]+)%" width="([\d.]+)%"', page.text)
    assert bars[0][1:] == ("0.0", "100.0")
    assert any("error" in classes for classes, _, _ in bars)

    # the execution's page links back to its trace
    execution = await visitor.get(f"/executions/{execution_id}")
    assert f'href="/traces/{TRACE}"' in execution.text


async def test_what_an_application_sent_is_escaped_in_the_waterfall(
    visitor: Visitor, client: httpx.AsyncClient
) -> None:
    """Every value of a span reaches the page escaped: rows and details are built in Python."""
    mark = '"><img src=x onerror=alert(1)>'
    body = {
        "trace_id": "t-escape",
        "service_name": f"svc{mark}",
        "spans": [
            {
                "span_id": f"s{mark}",
                "parent_span_id": f"p{mark}",
                "name": f"op{mark}",
                "started_at": "2026-03-01T12:00:00Z",
                "ended_at": "2026-03-01T12:00:00.250Z",
                "status": "ERROR",
                "error_message": f"boom{mark}",
                "attributes": {"k": f"v{mark}"},
                "events": [{"name": f"e{mark}"}],
                "model": f"m{mark}",
            }
        ],
    }
    await send(client, body)
    page = await visitor.get("/traces/t-escape")
    assert page.status_code == 200
    assert "<img" not in page.text
    shown = str(escape(mark))  # as the templates' autoescape writes it
    for value in (f"op{shown}", f"svc{shown}", f"s{shown}", f"p{shown}", f"boom{shown}"):
        assert value in page.text, value
    assert "parent not received" in page.text
    assert '<details class="panel span-detail" id="span-1" open>' in page.text
    assert re.search(r'<rect class="bar k-[^"]* error" x="0.0%" width="100.0%"', page.text)


async def test_an_unknown_trace_is_a_404_page(visitor: Visitor) -> None:
    missing = await visitor.get("/traces/no-such-trace")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "not found" in missing.text


async def test_traces_need_the_read_scope_and_stay_in_their_project(
    visitors: VisitorFactory, client: httpx.AsyncClient
) -> None:
    await send(client, seed_trace())
    _, writer = await make_key(client, "default", ["traces:write"])
    _, other_reader = await make_key(client, "other", ["prompts:read"])
    async with visitors() as visitor:
        await visitor.sign_in(writer)
        assert (await visitor.get("/traces")).status_code == 403
        nav = await visitor.get("/traces/test-production-123")
        assert nav.status_code == 403
        assert 'href="/traces"' not in nav.text  # no menu entry that would refuse
    async with visitors() as other:
        await other.sign_in(other_reader)
        listed = await other.get("/traces")
        assert 'href="/traces"' in listed.text
        assert "No traces yet" in listed.text
        assert (await other.get("/traces/test-production-123")).status_code == 404
