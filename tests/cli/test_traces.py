"""``promptledger traces list|show``: a trace as a tree in the terminal, and as JSON."""

from __future__ import annotations

import json

import httpx

from tests.cli.conftest import Cli
from tests.live_gateway import DEV_KEY

SPANS = [
    ("root", None, "handle /checkout", "00", "900", "OK", {}),
    ("a", "root", "load cart", "10", "200", "OK", {}),
    ("a1", "a", "db query", "20", "150", "OK", {}),
    (
        "b",
        "root",
        "chat",
        "300",
        "800",
        "ERROR",
        {
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": 30,
        },
    ),
    ("b1", "b", "retry", "400", "500", "OK", {}),
]


def send(url: str) -> None:
    spans = [
        {
            "span_id": span_id,
            "parent_span_id": parent,
            "name": name,
            "started_at": f"2026-03-01T12:00:00.{start.zfill(3)}Z",
            "ended_at": f"2026-03-01T12:00:00.{end.zfill(3)}Z",
            "status": status,
            "attributes": attributes,
            **({"error_message": "rate limited"} if status == "ERROR" else {}),
        }
        for span_id, parent, name, start, end, status, attributes in SPANS
    ]
    body = {"trace_id": "t-cli", "service_name": "shop", "spans": spans}
    sent = httpx.post(f"{url}/v1/traces", json=body, headers={"X-API-Key": DEV_KEY})
    assert sent.status_code == 202, sent.text


def test_traces_show_draws_the_tree(cli: Cli, live_url: str) -> None:
    send(live_url)
    shown = cli.ok("traces", "show", "t-cli")
    assert shown.stdout == (
        "Trace:    t-cli\n"
        "Status:   error (1 of 5 spans failed)\n"
        "Services: shop\n"
        "Started:  2026-03-01 12:00:00\n"
        "Duration: 900 ms\n"
        "Cost:     $0.000020\n"
        "\n"
        "handle /checkout  [internal]  900 ms  shop\n"
        "├─ load cart  [internal]  190 ms  shop\n"
        "│  └─ db query  [internal]  130 ms  shop\n"
        "└─ chat  [llm]  500 ms  ERROR rate limited  shop  gpt-4o-mini  12+30 tokens  $0.000020\n"
        "   └─ retry  [internal]  100 ms  shop\n"
    )


def test_traces_list_and_json(cli: Cli, live_url: str) -> None:
    send(live_url)
    listed = cli.ok("traces", "list", "--status", "error")
    assert listed.stdout.splitlines()[2].split() == [
        "t-cli",
        "handle",
        "/checkout",
        "shop",
        "5",
        "error",
        "900",
        "ms",
        "$0.000020",
        "2026-03-01",
        "12:00:00",
    ]
    as_json = json.loads(cli.ok("traces", "list", "--json").stdout)
    assert [t["trace_id"] for t in as_json] == ["t-cli"]
    assert json.loads(cli.ok("traces", "show", "t-cli", "--json").stdout)["span_count"] == 5
    none = cli.ok("traces", "list", "--service", "other").stdout.splitlines()
    assert len(none) == 2  # the header and its rule: no trace of that service
