"""Schema migrations (alembic), runnable from code, the CLI and the deploy surfaces."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from prompt_ledger.startup_errors import SettingsError


def schema_dir(configured: str | None = None) -> Path:
    """The alembic folder: ``configured`` (the setting PROMPTLEDGER_SCHEMA_DIR), ./schema, or
    the source checkout's."""
    candidates = [
        configured,
        str(Path.cwd() / "schema"),
        str(Path(__file__).resolve().parents[2] / "schema"),
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "env.py").is_file():
            return Path(candidate)
    raise SettingsError(
        "Cannot find the schema/ migrations folder: set PROMPTLEDGER_SCHEMA_DIR to its path"
    )


def alembic_config(database_url: str, schema: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(schema_dir(schema)))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head", *, schema: str | None = None) -> None:
    command.upgrade(alembic_config(database_url, schema), revision)


def downgrade(database_url: str, revision: str = "base", *, schema: str | None = None) -> None:
    command.downgrade(alembic_config(database_url, schema), revision)
