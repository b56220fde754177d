"""Concurrent writers: distinct content gets distinct numbers, identical content one version."""

from __future__ import annotations

import asyncio

import httpx
import psycopg


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


async def test_two_moves_that_create_one_label_record_a_chain_of_history(
    client: httpx.AsyncClient, database_url: str
) -> None:
    # Two moves of a label the prompt does not have yet, held up by a lock on the prompt and
    # released together: the second must see the label the first created, so the history reads
    # none -> first -> second, never twice "from none".
    await client.put("/v1/prompts/race", json={"template_source": "one"})
    await client.put("/v1/prompts/race", json={"template_source": "two"})
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as watcher:
        async with (
            await psycopg.AsyncConnection.connect(database_url) as holder,
            holder.transaction(),
        ):
            await holder.execute("SELECT 1 FROM prompts WHERE name = 'race' FOR UPDATE")
            moves = [
                asyncio.create_task(
                    client.put("/v1/prompts/race/labels/production", json={"version": version})
                )
                for version in (1, 2)
            ]
            for _ in range(3000):  # both moves waiting on the prompt's lock
                waiting = await (
                    await watcher.execute(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                ).fetchone()
                if waiting and waiting[0] >= 2:
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the two moves never waited on the prompt's lock")
        responses = await asyncio.gather(*moves)
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    history = (await client.get("/v1/prompts/race/labels/history")).json()["items"]
    chain = [(h["from_version"], h["to_version"]) for h in reversed(history)]
    assert len(chain) == 2
    assert chain[0][0] is None
    assert chain[1][0] == chain[0][1] != chain[1][1]
