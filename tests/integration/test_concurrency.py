"""Concurrent writers: distinct content gets distinct numbers, identical content one version."""

from __future__ import annotations

import asyncio

import httpx


async def test_concurrent_different_puts_get_distinct_numbers(client: httpx.AsyncClient) -> None:
    await client.put("/v1/prompts/hot", json={"template_source": "base"})
    responses = await asyncio.gather(
        *[
            client.put("/v1/prompts/hot", json={"template_source": f"variant {i}"})
            for i in range(12)
        ]
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    numbers = sorted(r.json()["version"]["version_number"] for r in responses)
    assert numbers == list(range(2, 14))


async def test_concurrent_identical_puts_create_one_version(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(
        *[
            client.put("/v1/prompts/fresh", json={"template_source": "same {{x}}"})
            for _ in range(12)
        ]
    )
    assert sorted(r.status_code for r in responses) == [200] * 11 + [201]
    assert {r.json()["version"]["version_id"] for r in responses} == {
        responses[0].json()["version"]["version_id"]
    }
    versions = (await client.get("/v1/prompts/fresh/versions")).json()["items"]
    assert len(versions) == 1


async def test_concurrent_registrations_are_consistent(client: httpx.AsyncClient) -> None:
    body = {"prompts": [{"name": "A", "template": "a"}, {"name": "B", "template": "b"}]}
    responses = await asyncio.gather(
        *[client.post("/v1/prompts:register", json=body) for _ in range(8)]
    )
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    changed = sum(p["changed"] for r in responses for p in r.json()["prompts"])
    assert changed == 2
