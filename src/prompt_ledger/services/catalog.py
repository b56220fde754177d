"""The model catalogue: providers, models, limits and prices (USD per 1M tokens)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from prompt_ledger.asks import ModelSpec
from prompt_ledger.cache import GroupCache, payload
from prompt_ledger.db.store import Database, Queries
from prompt_ledger.records import Model
from prompt_ledger.views import Page, cursor_value, page_of

# A curated list with list prices as published by the providers (USD per 1M tokens), reviewed
# 2026-11. Prices change: check them, and upsert your own with PUT /v1/models/{provider}/{name}.
# `promptledger migrate` (and `seed-models`) loads it: missing models are added and the prices
# of models still owned by the catalogue follow it; a model changed through the API is the user's.
CURATED_MODELS: list[dict[str, Any]] = [
    {
        "provider": "openai",
        "model_name": "gpt-4o-mini",
        "max_tokens": 16384,
        "supports_streaming": True,
        "input_price_per_mtok": 0.15,
        "output_price_per_mtok": 0.60,
    },
    {
        "provider": "openai",
        "model_name": "gpt-4o",
        "max_tokens": 16384,
        "supports_streaming": True,
        "input_price_per_mtok": 2.50,
        "output_price_per_mtok": 10.00,
    },
    {
        "provider": "openai",
        "model_name": "gpt-4.1",
        "max_tokens": 32768,
        "supports_streaming": True,
        "input_price_per_mtok": 2.00,
        "output_price_per_mtok": 8.00,
    },
    {
        "provider": "openai",
        "model_name": "gpt-4.1-mini",
        "max_tokens": 32768,
        "supports_streaming": True,
        "input_price_per_mtok": 0.40,
        "output_price_per_mtok": 1.60,
    },
    {
        "provider": "openai",
        "model_name": "gpt-4.1-nano",
        "max_tokens": 32768,
        "supports_streaming": True,
        "input_price_per_mtok": 0.10,
        "output_price_per_mtok": 0.40,
    },
    {
        "provider": "openai",
        "model_name": "o4-mini",
        "max_tokens": 100000,
        "supports_streaming": True,
        "input_price_per_mtok": 1.10,
        "output_price_per_mtok": 4.40,
    },
    {
        "provider": "anthropic",
        "model_name": "claude-haiku-4-5",
        "max_tokens": 64000,
        "supports_streaming": True,
        "input_price_per_mtok": 1.00,
        "output_price_per_mtok": 5.00,
    },
    {
        "provider": "anthropic",
        "model_name": "claude-sonnet-4-5",
        "max_tokens": 64000,
        "supports_streaming": True,
        "input_price_per_mtok": 3.00,
        "output_price_per_mtok": 15.00,
    },
    {
        "provider": "anthropic",
        "model_name": "claude-opus-4-5",
        "max_tokens": 64000,
        "supports_streaming": True,
        "input_price_per_mtok": 5.00,
        "output_price_per_mtok": 25.00,
    },
    {
        "provider": "demo",
        "model_name": "demo-echo",
        "max_tokens": 4096,
        "supports_streaming": False,
        "input_price_per_mtok": 0,
        "output_price_per_mtok": 0,
    },
]


class Catalog:
    def __init__(self, db: Database, resolutions: GroupCache[str, Any, Any] | None = None) -> None:
        """``resolutions``: the cache whose entries hold models and prices (the prompt cache,
        which executions' resolutions follow), cleared in every process by a model write."""
        self._db = db
        self._resolutions = resolutions

    async def list(self, *, provider: str | None, limit: int, cursor: str | None) -> Page[Model]:
        async with self._db.connect() as q:
            items = await q.all(
                "list_models",
                Model,
                provider=provider,
                after=cursor_value(cursor, str),
                limit=limit + 1,
            )
        return page_of(items, limit, lambda last: f"{last.provider}/{last.model_name}")

    async def upsert(self, provider: str, model_name: str, spec: ModelSpec) -> tuple[Model, bool]:
        async with self._db.transaction() as q:
            row = await q.row(
                "upsert_model",
                provider=provider,
                model_name=model_name,
                max_tokens=spec.max_tokens,
                supports_streaming=spec.supports_streaming,
                input_price_per_mtok=_price(spec.input_price_per_mtok),
                output_price_per_mtok=_price(spec.output_price_per_mtok),
            )
            await self._notify(q)
        self._evict()
        assert row is not None
        return Model.model_validate(row), bool(row["created"])

    async def seed(self) -> CatalogLoad:
        """Insert the curated models that are missing and update those still owned by the
        catalogue; rows a user created or changed through the API are left alone."""
        added = updated = 0
        async with self._db.transaction() as q:
            for entry in CURATED_MODELS:
                row = await q.row(
                    "load_catalog_model",
                    provider=entry["provider"],
                    model_name=entry["model_name"],
                    max_tokens=entry["max_tokens"],
                    supports_streaming=entry["supports_streaming"],
                    input_price_per_mtok=_price(entry["input_price_per_mtok"]),
                    output_price_per_mtok=_price(entry["output_price_per_mtok"]),
                )
                if row is not None:
                    added += bool(row["created"])
                    updated += not row["created"]
            if added or updated:
                await self._notify(q)
        self._evict()
        return CatalogLoad(curated=len(CURATED_MODELS), added=added, updated=updated)

    async def _notify(self, q: Queries) -> None:
        """Every process drops the resolutions it cached (at commit): they hold models and
        prices. Models change seldom, so all of them, not the prompts using one model."""
        if self._resolutions is not None:
            await q.execute("notify_cache", payload=payload(self._resolutions.name, "*"))

    def _evict(self) -> None:
        if self._resolutions is not None:
            self._resolutions.clear()  # this process at once (read-your-writes)


@dataclass(frozen=True)
class CatalogLoad:
    """What loading the curated list did: models in the list, rows added, rows updated."""

    curated: int
    added: int
    updated: int


def _price(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))
