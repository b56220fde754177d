"""Moving the registry's pointers: labels (each move recorded in the label history), the active
version (rollback or roll forward), and archiving a version nothing points at."""

from __future__ import annotations

from prompt_ledger.auth import Principal
from prompt_ledger.cache import payload
from prompt_ledger.errors import Conflict, NotFound
from prompt_ledger.records import Label, LabelEvent, Version
from prompt_ledger.services.registry.base import group, one, refuse_tracking, version_of
from prompt_ledger.services.registry.resolution import Resolution
from prompt_ledger.views import Page, PromptView, cursor_value, page_of


class Labels(Resolution):
    """Moving labels and the active version; archiving."""

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
        """The prompt's row locked, then one statement (``move_label``), pipelined in one
        transaction: the move, its history event and the cache eviction commit together, or
        nothing is written. The lock comes first, in its own statement, so that the move's
        snapshot is taken after it: a label that a concurrent move just created is seen, and
        the history records the move from it."""
        async with self._db.pipeline() as q:
            await q.execute("lock_prompt", project_id=who.project_id, name=name)
            row = await q.row(
                "move_label",
                project_id=who.project_id,
                name=name,
                label=label,
                version_number=number,
                actor=actor,
                reason=reason,
                payload=payload(self._cache.name, group(who, name)),
            )
        assert row is not None
        if not row["found_prompt"]:
            raise NotFound(f"Prompt '{name}' not found.")
        if row["version_status"] is None:
            raise NotFound(f"Prompt '{name}' has no version {number}.")
        if row["version_status"] == "archived":
            raise Conflict(f"Version {number} of '{name}' is archived and cannot be labelled.")
        if row["notified"]:
            self._cache.evict(group(who, name))  # read-your-writes in this process
        return [Label.model_validate(item) for item in row["labels"]]

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
            refuse_tracking(prompt, "activate versions of")
            version = await version_of(q, prompt, number)
            if version.status == "archived":
                raise Conflict(f"Version {number} of '{name}' is archived and cannot be activated.")
            await q.execute(
                "activate_version", prompt_id=prompt.prompt_id, version_id=version.version_id
            )
        return await self.get_prompt(who, name)

    async def archive(self, who: Principal, name: str, number: int) -> Version:
        async with self._write(who, name) as q:
            prompt = await self._locked(q, who, name)
            refuse_tracking(prompt, "archive versions of")
            version = await version_of(q, prompt, number)
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
            return await one(
                q,
                "archive_version",
                Version,
                prompt_id=prompt.prompt_id,
                version_id=version.version_id,
            )
