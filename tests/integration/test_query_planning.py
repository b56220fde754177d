"""Named queries and prepared statements: a query marked "Planned per call" in queries.sql is
never prepared (a generic plan of its optional filters sorts every row), others are, after
psycopg's threshold, as before."""

from __future__ import annotations

from prompt_ledger.db.store import Database
from prompt_ledger.records import DEFAULT_PROJECT_ID

CALLS = 8  # past psycopg's prepare threshold (5)


async def prepared(database_url: str, name: str, **params: object) -> list[str]:
    """The statements prepared on a connection after calling ``name`` CALLS times on it."""
    db = Database(database_url, min_size=1, max_size=1)
    await db.open()
    try:
        async with db.connect() as q:
            for _ in range(CALLS):
                await q.rows(name, **params)
            found = await q.connection.execute("SELECT statement FROM pg_prepared_statements")
            return [row["statement"] for row in await found.fetchall()]
    finally:
        await db.close()


async def test_the_execution_list_is_planned_for_its_values_at_every_call(
    database_url: str,
) -> None:
    filters = dict.fromkeys(
        (
            "prompt_name",
            "version_number",
            "status",
            "provider",
            "model_name",
            "correlation_id",
            "since",
            "until",
            "min_attempts",
            "before_created",
            "before_id",
        )
    )
    statements = await prepared(
        database_url, "list_executions", project_id=DEFAULT_PROJECT_ID, limit=51, **filters
    )
    assert not [s for s in statements if "FROM executions e" in s]


async def test_other_queries_are_still_prepared(database_url: str) -> None:
    statements = await prepared(database_url, "prompt_owner_teams", project_id=DEFAULT_PROJECT_ID)
    assert [s for s in statements if "WITH RECURSIVE teams" in s]
