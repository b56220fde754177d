"""The migrations build exactly the schema the code expects, and run both ways."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, pool

from prompt_ledger import migrate
from prompt_ledger.db.queries import all_queries
from prompt_ledger.db.tables import metadata
from prompt_ledger.settings import sqlalchemy_url
from tests.conftest import create_database, drop_database

PARAM = re.compile(r"%\((\w+)\)s")


@pytest.fixture
def empty_db(server_url: str) -> Iterator[str]:
    name = f"pl_empty_{uuid.uuid4().hex[:10]}"
    url = create_database(server_url, name)
    yield url
    drop_database(server_url, name)


def schema_diff(url: str) -> list[object]:
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "include_object": lambda obj, name, *_: (
                        not str(name).startswith("procrastinate")
                    ),
                },
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


def test_upgrade_downgrade_upgrade(empty_db: str) -> None:
    migrate.upgrade(empty_db)
    assert {"prompts", "prompt_versions", "executions", "procrastinate_jobs"} <= tables(empty_db)
    assert schema_diff(empty_db) == []

    migrate.downgrade(empty_db, "base")
    assert tables(empty_db) <= {"alembic_version"}
    with psycopg.connect(empty_db) as conn:
        leftovers = conn.execute(
            "SELECT proname FROM pg_proc WHERE proname LIKE 'procrastinate%'"
        ).fetchall()
    assert leftovers == []

    migrate.upgrade(empty_db)
    assert schema_diff(empty_db) == []


def test_drift_is_detected(empty_db: str) -> None:
    """The drift check is not vacuous: a column the code does not declare shows up."""
    migrate.upgrade(empty_db)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute("ALTER TABLE prompts ADD COLUMN surprise integer")
    assert schema_diff(empty_db) != []


def to_positional(text: str) -> str:
    """%(name)s placeholders -> $1, $2... (the same name keeps its number)."""
    order: dict[str, int] = {}
    return PARAM.sub(lambda m: f"${order.setdefault(m.group(1), len(order) + 1)}", text)


def test_every_named_query_prepares(database_url: str) -> None:
    """Every query of queries.sql is valid against the migrated schema (names, columns, types)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for name, text in all_queries().items():
            positional = to_positional(text)
            if positional.startswith("LOCK "):  # a utility statement cannot be prepared: run it
                with conn.transaction():
                    conn.execute(positional)
                continue
            try:
                conn.execute(f"PREPARE pl_check AS {positional}")
            except psycopg.Error as exc:
                pytest.fail(f"query {name!r} does not prepare: {exc}")
            conn.execute("DEALLOCATE pl_check")


def test_default_project_exists(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT name FROM projects WHERE project_id = '00000000-0000-0000-0000-000000000001'"
        ).fetchone()
    assert row == ("default",)


def _history(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    conn.execute(
        "INSERT INTO prompts (project_id, name) "
        "VALUES ('00000000-0000-0000-0000-000000000001', 'h') RETURNING prompt_id"
    )
    conn.execute(
        "INSERT INTO label_history (prompt_id, label) "
        "SELECT prompt_id, 'production' FROM prompts WHERE name = 'h'"
    )
    row = conn.execute("SELECT count(*) FROM label_history").fetchone()
    assert row is not None
    return int(str(row[0]))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE label_history SET reason = 'rewritten'",
        "DELETE FROM label_history",
        "TRUNCATE label_history",
        "DELETE FROM prompts WHERE name = 'h'",  # the cascade to its history
    ],
    ids=["update", "delete", "truncate", "cascade"],
)
def test_label_history_refuses_edits_and_deletes(database_url: str, statement: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert _history(conn) == 1
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute(statement)
        row = conn.execute("SELECT count(*), max(reason) FROM label_history").fetchone()
        assert row == (1, None)


def test_label_history_purge_is_explicit(database_url: str) -> None:
    """The documented purge (docs/architecture.md): SET LOCAL in the purging transaction."""
    with psycopg.connect(database_url) as conn:
        assert _history(conn) == 1
        conn.commit()
        with conn.transaction():
            conn.execute("SET LOCAL promptledger.purge = 'label_history'")
            # A purge removes history, it never rewrites it.
            refused = pytest.raises(psycopg.errors.RaiseException, match="UPDATE refused")
            with refused, conn.transaction():
                conn.execute("UPDATE label_history SET reason = 'rewritten'")
            conn.execute("DELETE FROM prompts WHERE name = 'h'")
        row = conn.execute("SELECT count(*) FROM label_history").fetchone()
        assert row == (0,)
        # SET LOCAL ended with its transaction: the next delete is refused again.
        _history(conn)
        with pytest.raises(psycopg.errors.RaiseException, match="DELETE refused"):
            conn.execute("DELETE FROM label_history")
