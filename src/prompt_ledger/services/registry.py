"""The prompt registry: content-addressed versions, labels with history, tracking mode."""

from __future__ import annotations

import difflib
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from psycopg.types.json import Jsonb
from pydantic import BaseModel

from prompt_ledger import templates
from prompt_ledger.auth import Principal
from prompt_ledger.bodies import (
    MAX_INT,
    CodePrompt,
    DiffResponse,
    Page,
    PromptView,
    PutPromptBody,
    PutPromptResult,
    RegisterResult,
    ResolveFailure,
    ResolveItem,
    cursor_value,
    page_of,
)
from prompt_ledger.cache import GroupCache, payload
from prompt_ledger.db.store import Database, Queries
from prompt_ledger.errors import Conflict, NotFound, ValidationFailed
from prompt_ledger.records import (
    Label,
    LabelEvent,
    Message,
    Prompt,
    PromptMode,
    PromptSummary,
    Version,
)


@dataclass(frozen=True, slots=True)
class NewContent:
    """Content offered for a new version, validated and hashed."""

    content: templates.PromptContent
    variables: list[str]
    checksum: str

    @classmethod
    def of(
        cls,
        template_source: str | None,
        messages: Sequence[Message] | None,
        model_defaults: dict[str, Any] | None,
    ) -> NewContent:
        content = templates.PromptContent(
            template_source=template_source,
            messages=None
            if messages is None
            else tuple(templates.ChatMessage(m.role, m.content) for m in messages),
            model_defaults=model_defaults or {},
        )
        return cls(content, templates.declared_variables(content), content.checksum())


def content_of(version: Version) -> templates.PromptContent:
    return templates.PromptContent(
        template_source=version.template_source,
        messages=None
        if version.messages is None
        else tuple(templates.ChatMessage(m.role, m.content) for m in version.messages),
        model_defaults=version.model_defaults,
    )


R = TypeVar("R", bound=BaseModel)


PromptCache = GroupCache[str, tuple[str | None, int | None], PromptView]


class Registry:
    def __init__(self, db: Database, cache: PromptCache, render_seconds: float) -> None:
        self._db = db
        self._cache = cache
        self._render_seconds = render_seconds

    @asynccontextmanager
    async def _write(self, who: Principal, *names: str) -> AsyncIterator[Queries]:
        """A write transaction that evicts the written prompts from every process's cache:
        a NOTIFY delivered at commit, and a local eviction right after it (read-your-writes)."""
        async with self._db.transaction() as q:
            yield q
            for name in names:
                await q.execute(
                    "notify_cache", payload=payload(self._cache.name, _group(who, name))
                )
        for name in names:
            self._cache.evict(_group(who, name))

    # --- writing versions ----------------------------------------------------------------

    async def put_prompt(self, who: Principal, name: str, body: PutPromptBody) -> PutPromptResult:
        new = NewContent.of(body.template_source, body.messages, body.model_defaults)
        await templates.vet(new.content, new.variables, seconds=self._render_seconds)
        async with self._write(who, name) as q:
            prompt = await self._upsert(
                q, who, name, "full", description=body.description, owner_team=body.owner_team
            )
            if prompt.mode == "tracking":
                raise Conflict(
                    f"Prompt '{name}' is in tracking mode: it is defined in application code and "
                    "registered from it, so the API refuses edits. Change the code instead.",
                    mode="tracking",
                )
            version, created = await self._add_version(
                q, prompt, new, body.created_by, body.commit_message
            )
            if body.set_active and prompt.active_version_id != version.version_id:
                if version.status == "archived":
                    raise Conflict(
                        f"Version {version.version_number} is archived and cannot be activated."
                    )
                prompt = await _one(
                    q,
                    "activate_version",
                    Prompt,
                    prompt_id=prompt.prompt_id,
                    version_id=version.version_id,
                )
        view = await self.get_prompt(who, name, version_number=version.version_number)
        return PutPromptResult(**view.model_dump(), created=created)

    async def register(
        self, who: Principal, items: Sequence[CodePrompt], created_by: str | None
    ) -> list[RegisterResult]:
        """Code-based tracking: register (name, template) pairs; changed content becomes active."""
        names = [item.name for item in items]
        if len(set(names)) != len(names):
            raise ValidationFailed("Each prompt name may appear once per registration.")
        prepared = [(item, NewContent.of(item.source, item.messages, None)) for item in items]
        for _, new in prepared:
            await templates.vet(new.content, new.variables, seconds=self._render_seconds)
        results: list[RegisterResult] = []
        async with self._write(who, *names) as q:
            for item, new in sorted(prepared, key=lambda pair: pair[0].name):  # stable lock order
                prompt = await self._upsert(
                    q,
                    who,
                    item.name,
                    "tracking",
                    description=item.description,
                    owner_team=item.owner_team,
                )
                if prompt.mode != "tracking":
                    raise Conflict(
                        f"Prompt '{item.name}' is managed through the API (mode 'full'); code "
                        "registration cannot take it over. Give the code prompt another name.",
                    )
                version, created = await self._add_version(q, prompt, new, created_by, None)
                if prompt.active_version_id != version.version_id:
                    await q.execute(
                        "activate_version",
                        prompt_id=prompt.prompt_id,
                        version_id=version.version_id,
                    )
                results.append(
                    RegisterResult(
                        name=item.name,
                        version_number=version.version_number,
                        checksum_hash=version.checksum_hash,
                        changed=created,
                    )
                )
        order = {name: i for i, name in enumerate(names)}
        return sorted(results, key=lambda r: order[r.name])

    async def _upsert(
        self,
        q: Queries,
        who: Principal,
        name: str,
        mode: PromptMode,
        *,
        description: str | None,
        owner_team: str | None,
    ) -> Prompt:
        return await _one(
            q,
            "upsert_prompt",
            Prompt,
            project_id=who.project_id,
            name=name,
            mode=mode,
            description=description,
            owner_team=owner_team,
        )

    async def _add_version(
        self,
        q: Queries,
        prompt: Prompt,
        new: NewContent,
        created_by: str | None,
        commit_message: str | None,
    ) -> tuple[Version, bool]:
        existing = await q.one(
            "find_version_by_checksum", Version, prompt_id=prompt.prompt_id, checksum=new.checksum
        )
        if existing is not None:
            return existing, False
        canonical = new.content.canonical()
        version = await _one(
            q,
            "insert_version",
            Version,
            prompt_id=prompt.prompt_id,
            kind=new.content.kind,
            template_source=new.content.template_source,
            messages=None if canonical["messages"] is None else Jsonb(canonical["messages"]),
            model_defaults=Jsonb(canonical["model_defaults"]),
            variables=new.variables,
            checksum=new.checksum,
            created_by=created_by,
            commit_message=commit_message,
        )
        return version, True

    # --- reading -------------------------------------------------------------------------

    async def get_prompt(
        self,
        who: Principal,
        name: str,
        *,
        label: str | None = None,
        version_number: int | None = None,
    ) -> PromptView:
        group = _group(who, name)
        cached = self._cache.get(group, (label, version_number))
        if cached is not None:
            return cached
        generation = self._cache.generation(group)
        view = await self._resolve(who, name, label, version_number)
        self._cache.put(group, (label, version_number), view, generation)
        return view

    async def resolve_many(
        self, who: Principal, items: Sequence[ResolveItem]
    ) -> list[PromptView | ResolveFailure]:
        """Each item resolved (from the cache when possible), failures reported per item."""
        results: list[PromptView | ResolveFailure] = []
        for item in items:
            try:
                results.append(
                    await self.get_prompt(
                        who, item.name, label=item.label, version_number=item.version
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
            return await _version(q, prompt, number)

    async def diff(
        self, who: Principal, name: str, from_number: int, to_number: int
    ) -> DiffResponse:
        async with self._db.connect() as q:
            prompt = await self._find(q, who, name)
            old, new = await _version(q, prompt, from_number), await _version(q, prompt, to_number)
        template_diff = _unified(template_text(old), template_text(new), from_number, to_number)
        defaults_diff = _unified(
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

    async def _find(self, q: Queries, who: Principal, name: str) -> Prompt:
        found = await q.one("get_prompt", Prompt, project_id=who.project_id, name=name)
        if found is None:
            raise NotFound(f"Prompt '{name}' not found.")
        return found

    # --- labels, activation, archive -----------------------------------------------------

    async def list_labels(self, who: Principal, name: str) -> list[Label]:
        async with self._db.connect() as q:
            prompt = await self._find(q, who, name)
            return await q.all("list_labels", Label, prompt_id=prompt.prompt_id)

    async def set_label(
        self,
        who: Principal,
        name: str,
        label: str,
        number: int,
        *,
        actor: str | None,
        reason: str | None,
    ) -> list[Label]:
        async with self._write(who, name) as q:
            prompt = await self._locked(q, who, name)
            version = await _version(q, prompt, number)
            if version.status == "archived":
                raise Conflict(f"Version {number} of '{name}' is archived and cannot be labelled.")
            current = await q.row("lock_label", prompt_id=prompt.prompt_id, label=label)
            previous = None if current is None else current["version_id"]
            if previous != version.version_id:
                await q.execute(
                    "upsert_label",
                    prompt_id=prompt.prompt_id,
                    label=label,
                    version_id=version.version_id,
                    actor=actor,
                )
                await q.execute(
                    "insert_label_event",
                    prompt_id=prompt.prompt_id,
                    label=label,
                    from_version_id=previous,
                    to_version_id=version.version_id,
                    actor=actor,
                    reason=reason,
                )
            return await q.all("list_labels", Label, prompt_id=prompt.prompt_id)

    async def remove_label(
        self, who: Principal, name: str, label: str, actor: str | None, reason: str | None
    ) -> None:
        async with self._write(who, name) as q:
            prompt = await self._locked(q, who, name)
            removed = await q.row("delete_label", prompt_id=prompt.prompt_id, label=label)
            if removed is None:
                raise NotFound(f"Prompt '{name}' has no label '{label}'.")
            await q.execute(
                "insert_label_event",
                prompt_id=prompt.prompt_id,
                label=label,
                from_version_id=removed["version_id"],
                to_version_id=None,
                actor=actor,
                reason=reason,
            )

    async def label_history(
        self, who: Principal, name: str, label: str | None, *, limit: int, cursor: str | None
    ) -> Page[LabelEvent]:
        before = cursor_value(cursor, int)
        async with self._db.connect() as q:
            prompt = await self._find(q, who, name)
            items = await q.all(
                "list_label_history",
                LabelEvent,
                prompt_id=prompt.prompt_id,
                label=label,
                before=before,
                limit=limit + 1,
            )
        return page_of(items, limit, lambda last: last.event_id)

    async def activate(self, who: Principal, name: str, number: int) -> PromptView:
        """Rollback (or roll forward): make an existing version the active one."""
        async with self._write(who, name) as q:
            prompt = await self._locked(q, who, name)
            _refuse_tracking(prompt, "activate versions of")
            version = await _version(q, prompt, number)
            if version.status == "archived":
                raise Conflict(f"Version {number} of '{name}' is archived and cannot be activated.")
            await q.execute(
                "activate_version", prompt_id=prompt.prompt_id, version_id=version.version_id
            )
        return await self.get_prompt(who, name)

    async def archive(self, who: Principal, name: str, number: int) -> Version:
        async with self._write(who, name) as q:
            prompt = await self._locked(q, who, name)
            _refuse_tracking(prompt, "archive versions of")
            version = await _version(q, prompt, number)
            if version.version_id == prompt.active_version_id:
                raise Conflict(
                    f"Version {number} is the active version of '{name}'; activate "
                    "another version before archiving it."
                )
            labels = [
                r["label"] for r in await q.rows("labels_on_version", version_id=version.version_id)
            ]
            if labels:
                raise Conflict(
                    f"Version {number} of '{name}' is labelled {', '.join(labels)}; move "
                    "or remove those labels first.",
                    labels=labels,
                )
            return await _one(
                q,
                "archive_version",
                Version,
                prompt_id=prompt.prompt_id,
                version_id=version.version_id,
            )

    async def _locked(self, q: Queries, who: Principal, name: str) -> Prompt:
        found = await q.one("lock_prompt", Prompt, project_id=who.project_id, name=name)
        if found is None:
            raise NotFound(f"Prompt '{name}' not found.")
        return found


def _group(who: Principal, name: str) -> str:
    return f"{who.project_id}:{name}"


def _refuse_tracking(prompt: Prompt, action: str) -> None:
    if prompt.mode == "tracking":
        raise Conflict(
            f"The API cannot {action} '{prompt.name}': it is in tracking mode and "
            "follows the application code that registers it.",
            mode="tracking",
        )


async def _one(q: Queries, name: str, record: type[R], /, **params: Any) -> R:
    found = await q.one(name, record, **params)
    if found is None:  # pragma: no cover - the queries used here always return a row
        raise RuntimeError(f"query {name} returned no row")
    return found


async def _version(q: Queries, prompt: Prompt, number: int) -> Version:
    found = await q.one("get_version", Version, prompt_id=prompt.prompt_id, version_number=number)
    if found is None:
        raise NotFound(f"Prompt '{prompt.name}' has no version {number}.")
    return found


def template_text(version: Version) -> str:
    if version.messages is not None:
        return "".join(f"[{m.role}]\n{m.content}\n" for m in version.messages)
    return version.template_source or ""


def defaults_text(value: dict[str, Any]) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _unified(old: str, new: str, from_number: int, to_number: int) -> str:
    """A unified diff; a missing final newline is marked the way diff(1) marks it, so the last
    lines of both sides never run together."""

    def lines(text: str) -> list[str]:
        found = text.splitlines(keepends=True)
        if found and not found[-1].endswith("\n"):
            found[-1] += "\n\\ No newline at end of file\n"
        return found

    return "".join(
        difflib.unified_diff(
            lines(old),
            lines(new),
            fromfile=f"v{from_number}",
            tofile=f"v{to_number}",
        )
    )
