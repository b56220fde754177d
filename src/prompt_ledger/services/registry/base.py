"""What every part of the registry shares: the database, the prompt cache, write transactions
that evict what they wrote, and finding a prompt or a version or failing with 404."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from pydantic import BaseModel

from prompt_ledger.auth import Principal
from prompt_ledger.cache import GroupCache, payload
from prompt_ledger.db.store import Database, Queries
from prompt_ledger.errors import Conflict, NotFound
from prompt_ledger.records import Prompt, Version
from prompt_ledger.views import PromptView

R = TypeVar("R", bound=BaseModel)


PromptCache = GroupCache[str, tuple[str | None, int | None], PromptView]


class RegistryBase:
    """The state and the helpers the parts of :class:`~prompt_ledger.services.registry.Registry`
    share."""

    def __init__(self, db: Database, cache: PromptCache, render_seconds: float) -> None:
        self._db = db
        self._cache = cache
        self._render_seconds = render_seconds
        self._json: dict[int, tuple[PromptView, bytes]] = {}  # resolution's serialised views

    @asynccontextmanager
    async def _write(
        self, who: Principal, *names: str, notify: bool = True
    ) -> AsyncIterator[Queries]:
        """A write transaction that evicts the written prompts from every process's cache:
        a NOTIFY delivered at commit (``notify=False``: a statement of the block sends it),
        and a local eviction right after it (read-your-writes)."""
        async with self._db.transaction() as q:
            yield q
            for name in names if notify else ():
                await q.execute("notify_cache", payload=payload(self._cache.name, group(who, name)))
        for name in names:
            self._cache.evict(group(who, name))

    async def _find(self, q: Queries, who: Principal, name: str) -> Prompt:
        found = await q.one("get_prompt", Prompt, project_id=who.project_id, name=name)
        if found is None:
            raise NotFound(f"Prompt '{name}' not found.")
        return found

    async def _locked(self, q: Queries, who: Principal, name: str) -> Prompt:
        found = await q.one("lock_prompt", Prompt, project_id=who.project_id, name=name)
        if found is None:
            raise NotFound(f"Prompt '{name}' not found.")
        return found


def group(who: Principal, name: str) -> str:
    return f"{who.project_id}:{name}"


def refuse_tracking(prompt: Prompt, action: str) -> None:
    if prompt.mode == "tracking":
        raise Conflict(
            f"The API cannot {action} '{prompt.name}': it is in tracking mode and "
            "follows the application code that registers it.",
            mode="tracking",
        )


async def one(q: Queries, name: str, record: type[R], /, **params: Any) -> R:
    found = await q.one(name, record, **params)
    if found is None:  # pragma: no cover - the queries used here always return a row
        raise RuntimeError(f"query {name} returned no row")
    return found


async def version_of(q: Queries, prompt: Prompt, number: int) -> Version:
    found = await q.one("get_version", Version, prompt_id=prompt.prompt_id, version_number=number)
    if found is None:
        raise NotFound(f"Prompt '{prompt.name}' has no version {number}.")
    return found
