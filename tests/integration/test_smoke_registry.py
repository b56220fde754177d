from __future__ import annotations

import httpx


async def test_seed_put_get_versions(client: httpx.AsyncClient) -> None:
    body = {
        "description": "Summarize documents",
        "owner_team": "AI-Platform",
        "template_source": "Summarize:\n{{text}}",
        "created_by": "martin",
        "set_active": True,
    }
    created = await client.put("/v1/prompts/doc_summarizer", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["version"]["version_number"] == 1
    again = await client.put("/v1/prompts/doc_summarizer", json=body)
    assert again.status_code == 200
    assert again.json()["created"] is False
