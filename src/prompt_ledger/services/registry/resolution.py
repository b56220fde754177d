"""Reading the registry: a prompt resolved (active version, a label or a version number) through
the cache, lists of prompts and versions, diffs, and rendering a resolved version."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prompt_ledger import templates
from prompt_ledger.asks import PromptRef
from prompt_ledger.auth import Principal
from prompt_ledger.errors import Conflict, NotFound
from prompt_ledger.records import MAX_INT, Prompt, PromptSummary, Version
from prompt_ledger.services.registry.base import RegistryBase, group, version_of
from prompt_ledger.services.registry.content import (
    content_of,
    defaults_text,
    template_text,
    unified,
)
from prompt_ledger.views import (
    DiffResponse,
    Page,
    PromptView,
    ResolveFailure,
    cursor_value,
    page_of,
)

JSON_MEMO_SIZE = 1024


class Resolution(RegistryBase):
    """Reading: every operation that only looks."""

    async def get_prompt(
        self,
        who: Principal,
        name: str,
        *,
        label: str | None = None,
        version_number: int | None = None,
    ) -> PromptView:
        cached_group = group(who, name)
        cached = self._cache.get(cached_group, (label, version_number))
        if cached is not None:
            return cached
        generation = self._cache.generation(cached_group)
        view = await self._resolve(who, name, label, version_number)
        self._cache.put(cached_group, (label, version_number), view, generation)
        return view

    async def get_prompt_json(
        self,
        who: Principal,
        name: str,
        *,
        label: str | None = None,
        version_number: int | None = None,
    ) -> bytes:
        """:meth:`get_prompt`'s view as its JSON body, serialised once per cached view (the
        hot path of the SDK's resolve: a cache hit costs no serialisation)."""
        view = await self.get_prompt(who, name, label=label, version_number=version_number)
        found = self._json.get(id(view))
        if found is not None and found[0] is view:
            return found[1]
        body = view.model_dump_json(by_alias=True).encode()
        if len(self._json) >= JSON_MEMO_SIZE:
            self._json.clear()
        self._json[id(view)] = (view, body)  # holds the view: its id is not reused meanwhile
        return body

    async def resolve_many(
        self, who: Principal, items: Sequence[PromptRef]
    ) -> list[PromptView | ResolveFailure]:
        """Each item resolved (from the cache when possible), failures reported per item."""
        results: list[PromptView | ResolveFailure] = []
        for item in items:
            try:
                results.append(
                    await self.get_prompt(
                        who, item.name, label=item.label, version_number=item.version_number
                    )
                )
            except NotFound as exc:
                results.append(ResolveFailure(name=item.name, status=404, detail=exc.detail))
        return results

    async def _resolve(
        self, who: Principal, name: str, label: str | None, version_number: int | None
    ) -> PromptView:
        async with self._db.connect() as q:
            row = await q.row(
                "resolve_prompt",
                project_id=who.project_id,
                name=name,
                label=label,
                version_number=version_number,
            )
        if row is None:
            raise NotFound(f"Prompt '{name}' not found.")
        version = None if row["version"] is None else Version.model_validate(row["version"])
        if version is None and label is not None:
            raise NotFound(f"Prompt '{name}' has no label '{label}'.")
        pinned = label is not None and version_number is not None  # the label must be at it
        if pinned and version is not None and version.version_number != version_number:
            raise NotFound(
                f"Label '{label}' of prompt '{name}' points at version "
                f"{version.version_number}, not {version_number}."
            )
        if version is None and version_number is not None:
            raise NotFound(f"Prompt '{name}' has no version {version_number}.")
        prompt = Prompt.model_validate(row["prompt"])
        resolved_by = (
            f"label:{label}"
            if label
            else f"version:{version_number}"
            if version_number
            else "active"
        )
        return PromptView(
            **prompt.model_dump(),
            labels=row["labels"],
            version=version,
            resolved_by=resolved_by,
            active_version_number=row["active_version_number"],
        )

    async def list_prompts(
        self,
        who: Principal,
        *,
        owner_team: str | None,
        label: str | None,
        mode: str | None,
        search: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page[PromptSummary]:
        after = cursor_value(cursor, str)
        async with self._db.connect() as q:
            items = await q.all(
                "list_prompts",
                PromptSummary,
                project_id=who.project_id,
                owner_team=owner_team,
                label=label,
                mode=mode,
                search=search,
                after=after,
                limit=limit + 1,
            )
        return page_of(items, limit, lambda last: last.name)

    async def list_versions(
        self, who: Principal, name: str, *, limit: int, cursor: str | None
    ) -> Page[Version]:
        before = cursor_value(cursor, int, maximum=MAX_INT)
        async with self._db.connect() as q:
            prompt = await self._find(q, who, name)
            items = await q.all(
                "list_versions", Version, prompt_id=prompt.prompt_id, before=before, limit=limit + 1
            )
        return page_of(items, limit, lambda last: last.version_number)

    async def get_version(self, who: Principal, name: str, number: int) -> Version:
        async with self._db.connect() as q:
            prompt = await self._find(q, who, name)
            return await version_of(q, prompt, number)

    async def diff(
        self, who: Principal, name: str, from_number: int, to_number: int
    ) -> DiffResponse:
        async with self._db.connect() as q:
            prompt = await self._find(q, who, name)
            old, new = (
                await version_of(q, prompt, from_number),
                await version_of(q, prompt, to_number),
            )
        template_diff = unified(template_text(old), template_text(new), from_number, to_number)
        defaults_diff = unified(
            defaults_text(old.model_defaults),
            defaults_text(new.model_defaults),
            from_number,
            to_number,
        )
        return DiffResponse(
            name=name,
            from_version=from_number,
            to_version=to_number,
            template_diff=template_diff,
            model_defaults_diff=defaults_diff,
            identical=old.checksum_hash == new.checksum_hash,
        )

    async def render(
        self,
        who: Principal,
        name: str,
        variables: dict[str, Any],
        *,
        label: str | None,
        version_number: int | None,
    ) -> tuple[Version, templates.Rendered]:
        view = await self.get_prompt(who, name, label=label, version_number=version_number)
        if view.version is None:
            raise Conflict(f"Prompt '{name}' has no active version.")
        version = view.version
        rendered = await templates.render_off_loop(
            content_of(version), variables, version.variables, seconds=self._render_seconds
        )
        return version, rendered
