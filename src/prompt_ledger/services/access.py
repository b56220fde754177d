"""Projects (the instance operator's) and their API keys (each project's admins, or the
operator). Who may do what is decided here, from the caller's Principal."""

from __future__ import annotations

from uuid import UUID

from prompt_ledger.asks import NewKey
from prompt_ledger.auth import KeyCache, Principal, Scope, hash_key, new_key
from prompt_ledger.cache import payload
from prompt_ledger.db.store import Database, Queries
from prompt_ledger.errors import Conflict, Forbidden, NotFound
from prompt_ledger.records import ApiKey, Project
from prompt_ledger.views import CreatedKey, Page, cursor_value, page_of


class Access:
    def __init__(self, db: Database, keys: KeyCache) -> None:
        self._db = db
        self._keys = keys

    async def create_project(self, who: Principal, name: str) -> Project:
        who.require_operator("creates projects")
        try:  # outside connect(): the unique violation becomes a Conflict only as it leaves it
            async with self._db.connect() as q:
                project = await q.one("insert_project", Project, name=name)
        except Conflict:
            raise Conflict(f"A project named '{name}' already exists.") from None
        assert project is not None
        return project

    async def list_projects(
        self, who: Principal, *, limit: int, cursor: str | None
    ) -> Page[Project]:
        who.require_operator("lists projects")
        async with self._db.connect() as q:
            items = await q.all(
                "list_projects", Project, after=cursor_value(cursor, str), limit=limit + 1
            )
        return page_of(items, limit, lambda last: last.name)

    async def get_project(self, who: Principal, project_id: UUID) -> Project:
        who.require_project(project_id)
        async with self._db.connect() as q:
            found = await q.one("get_project", Project, project_id=project_id)
        if found is None:
            raise NotFound(f"Project {project_id} not found.")
        return found

    async def create_key(self, who: Principal, project_id: UUID, new: NewKey) -> CreatedKey:
        who.require_project(project_id)
        if Scope.OPERATOR in new.scopes:
            who.require_operator("grants the 'operator' scope")
        secret, prefix = new_key()
        async with self._db.connect() as q:
            await self._project(q, project_id)
            key = await q.one(
                "insert_api_key",
                ApiKey,
                project_id=project_id,
                name=new.name,
                prefix=prefix,
                key_hash=hash_key(secret),
                scopes=sorted(s.value for s in new.scopes),
                requests_per_minute=new.requests_per_minute,
                executions_per_minute=new.executions_per_minute,
            )
        assert key is not None
        return CreatedKey(
            key=secret,
            key_id=str(key.key_id),
            project_id=str(key.project_id),
            name=key.name,
            prefix=key.prefix,
            scopes=key.scopes,
            requests_per_minute=key.requests_per_minute,
            executions_per_minute=key.executions_per_minute,
        )

    async def list_keys(
        self, who: Principal, project_id: UUID, *, limit: int, cursor: str | None
    ) -> Page[ApiKey]:
        who.require_project(project_id)
        async with self._db.connect() as q:
            await self._project(q, project_id)
            items = await q.all(
                "list_api_keys",
                ApiKey,
                project_id=project_id,
                after=cursor_value(cursor, str),
                limit=limit + 1,
            )
        return page_of(items, limit, lambda last: last.created_at.isoformat())

    async def revoke_key(self, who: Principal, project_id: UUID, key_id: UUID) -> ApiKey:
        who.require_project(project_id)
        async with self._db.transaction() as q:
            found = await q.row("lock_api_key", project_id=project_id, key_id=key_id)
            if (
                found is not None
                and Scope.OPERATOR.value in found["scopes"]
                and not who.is_operator
            ):
                raise Forbidden(
                    "Only the instance operator may revoke an operator key.",
                    required_scope=Scope.OPERATOR.value,
                )
            key = await q.one("revoke_api_key", ApiKey, project_id=project_id, key_id=key_id)
            # Every process forgets cached keys when this commits; revocation is immediate.
            await q.execute("notify_cache", payload=payload(self._keys.name, "*"))
        self._keys.clear()
        if key is None:
            raise NotFound(f"API key {key_id} not found in project {project_id}.")
        return key

    async def _project(self, q: Queries, project_id: UUID) -> None:
        if await q.row("get_project", project_id=project_id) is None:
            raise NotFound(f"Project {project_id} not found.")
