"""``promptledger dev``: the whole stack on a laptop, and its start-up banner.

A database (the one ``DATABASE_URL`` names, else an embedded PostgreSQL whose data stays in
``.promptledger/pgdata``), migrated, with the model list loaded; the offline demo provider when
no provider key is set. Quiet: nothing but the banner and a "Ready" line unless ``DEBUG``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from prompt_ledger import migrate
from prompt_ledger.container import Container
from prompt_ledger.settings import Settings
from prompt_ledger.startup import check_database, database_location

Status = Callable[[str], AbstractContextManager[object]]
"""Shows what is being done while it is done (a spinner on a terminal)."""


@dataclass(frozen=True, slots=True)
class LocalStack:
    settings: Settings
    """With the database URL and the demo provider resolved."""
    data: str
    """Where the data lives, for people."""
    models: int

    @property
    def demo(self) -> bool:
        return self.settings.demo_fallback is True


def prepare(settings: Settings, data_dir: Path, status: Status) -> LocalStack:
    """The database (embedded when ``DATABASE_URL`` is unset), migrated, with the models."""
    if settings.database_url:
        url = settings.require_database_url()
        check_database(url, settings.db_connect_timeout)
        data = f"PostgreSQL at {database_location(url)} (DATABASE_URL)"
    else:
        from prompt_ledger.embedded import EmbeddedPostgres

        with status("Starting PostgreSQL..."):
            server = EmbeddedPostgres(data_dir.resolve() / "pgdata", quiet=not settings.debug)
        settings = settings.model_copy(update={"database_url": server.url})
        data = f"{data_dir / 'pgdata'} (embedded PostgreSQL, kept between runs)"
    with status("Migrating..."):
        migrate.upgrade(settings.require_database_url(), schema=settings.promptledger_schema_dir)
    models = asyncio.run(seed_models(settings))
    if not (settings.openai_api_key or settings.openai_base_url or settings.anthropic_api_key):
        settings = settings.model_copy(update={"demo_fallback": True})
    return LocalStack(settings, data, models)


async def seed_models(settings: Settings) -> int:
    """The curated model list (as ``promptledger migrate`` loads it); how many models it has."""
    container = Container(settings)
    try:
        return (await container.catalog.seed()).curated
    finally:
        await container.aclose()


def banner(stack: LocalStack, url: str) -> list[tuple[str, str]]:
    """What ``promptledger dev`` says before serving: label and value per line."""
    llm = (
        "offline demo provider (set OPENAI_API_KEY for real answers)"
        if stack.demo
        else "real providers (keys from the environment)"
    )
    return [
        ("URL", f"{url} (open it in a browser for the console)"),
        ("Docs", f"{url}/docs"),
        (
            "API key",
            f"{stack.settings.operator_key or 'the stored operator key'} (sign in with it)",
        ),
        ("Data", stack.data),
        ("LLM", llm),
        ("Models", f"{stack.models} loaded"),
        ("Stop", "Ctrl+C (the data is kept; DEBUG=true shows logs)"),
    ]
