"""Read-only look-ups the console's pages need beyond the API's own lists (filter choices)."""

from __future__ import annotations

from dataclasses import dataclass

from prompt_ledger.auth import Principal
from prompt_ledger.db.store import Database


@dataclass(frozen=True, slots=True)
class PromptFilters:
    owner_teams: list[str]
    labels: list[str]


class Browse:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def prompt_filters(self, who: Principal) -> PromptFilters:
        """The owner teams and label names of a project's prompts (the first 200 of each)."""
        async with self._db.connect() as q:
            teams = await q.rows("prompt_owner_teams", project_id=who.project_id)
            labels = await q.rows("prompt_label_names", project_id=who.project_id)
        return PromptFilters(
            owner_teams=[row["owner_team"] for row in teams],
            labels=[row["label"] for row in labels],
        )
