"""Writing versions: a prompt created or given new content through the API (mode ``full``), or
registered from application code (mode ``tracking``); identical content reuses its version."""

from __future__ import annotations

from collections.abc import Sequence

from prompt_ledger import templates
from prompt_ledger.asks import PromptWrite, TrackedPrompt
from prompt_ledger.auth import Principal
from prompt_ledger.cache import payload
from prompt_ledger.db.store import Queries
from prompt_ledger.errors import Conflict, ValidationFailed
from prompt_ledger.records import Prompt, PromptMode, Version
from prompt_ledger.services.registry.base import group, one
from prompt_ledger.services.registry.content import NewContent
from prompt_ledger.services.registry.resolution import Resolution
from prompt_ledger.views import PutPromptResult, RegisterResult


class Versions(Resolution):
    """Writing content: new versions, through the API or from code."""

    async def put_prompt(self, who: Principal, name: str, write: PromptWrite) -> PutPromptResult:
        new = NewContent.of(write.template_source, write.messages, write.model_defaults)
        await templates.vet(new.content, new.variables, seconds=self._render_seconds)
        async with self._write(who, name, notify=False) as q:  # add_version notifies
            prompt = await self._upsert(
                q, who, name, "full", description=write.description, owner_team=write.owner_team
            )
            if prompt.mode == "tracking":
                raise Conflict(
                    f"Prompt '{name}' is in tracking mode: it is defined in application code and "
                    "registered from it, so the API refuses edits. Change the code instead.",
                    mode="tracking",
                )
            version, created = await self._add_version(
                q,
                prompt,
                new,
                write.created_by,
                write.commit_message,
                notify=payload(self._cache.name, group(who, name)),
            )
            if write.set_active and prompt.active_version_id != version.version_id:
                if version.status == "archived":
                    raise Conflict(
                        f"Version {version.version_number} is archived and cannot be activated."
                    )
                prompt = await one(
                    q,
                    "activate_version",
                    Prompt,
                    prompt_id=prompt.prompt_id,
                    version_id=version.version_id,
                )
        view = await self.get_prompt(who, name, version_number=version.version_number)
        return PutPromptResult(**view.model_dump(), created=created)

    async def register(
        self, who: Principal, items: Sequence[TrackedPrompt], created_by: str | None
    ) -> list[RegisterResult]:
        """Code-based tracking: register (name, template) pairs; changed content becomes active."""
        names = [item.name for item in items]
        if len(set(names)) != len(names):
            raise ValidationFailed("Each prompt name may appear once per registration.")
        prepared = [
            (item, NewContent.of(item.template_source, item.messages, None)) for item in items
        ]
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
        return await one(
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
        *,
        notify: str | None = None,
    ) -> tuple[Version, bool]:
        """The version with this content, found or appended (``add_version``, one round trip);
        ``notify``: a cache eviction payload sent with it (at commit)."""
        canonical = new.content.canonical()
        row = await q.row(
            "add_version",
            prompt_id=prompt.prompt_id,
            kind=new.content.kind,
            template_source=new.content.template_source,
            messages=canonical["messages"],
            model_defaults=canonical["model_defaults"],
            variables=new.variables,
            checksum=new.checksum,
            created_by=created_by,
            commit_message=commit_message,
            payload=notify,
        )
        if row is None:  # pragma: no cover - the query always returns the version
            raise RuntimeError("query add_version returned no row")
        return Version.model_validate(row), bool(row["created"])
