"""/metrics speaks the Prometheus text format and its counters move with real traffic."""

from __future__ import annotations

import re

import httpx


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample, 0 when absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_http_counters_move(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text
    await client.put("/v1/prompts/m", json={"template_source": "x"})
    await client.get("/v1/prompts/m")
    await client.get("/v1/prompts/nope")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    route = "/v1/prompts/{name}"
    for method, status in (("PUT", "201"), ("GET", "200"), ("GET", "404")):
        delta = sample(
            after, "promptledger_http_requests_total", route=route, method=method, status=status
        ) - sample(
            before, "promptledger_http_requests_total", route=route, method=method, status=status
        )
        assert delta == 1, (method, status)
    assert re.search(
        r'promptledger_http_request_duration_seconds_bucket\{.*route="/v1/prompts/\{name\}"', after
    )
    assert "promptledger_queue_jobs" in after or "# HELP promptledger_queue_jobs" in after


async def test_liveness_needs_no_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/livez", headers={"X-API-Key": ""})
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
