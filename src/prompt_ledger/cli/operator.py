"""What ``promptledger migrate`` does after upgrading the schema (the model catalogue, the
operator key), and ``promptledger operator-key``.

The operator key is the instance's bootstrap key. When ``API_KEY`` is set, that is it. In
production without ``API_KEY`` (a platform that cannot generate one), ``migrate`` generates it
once, stores only its hash and prints it here, once, in a banner; nothing else ever prints or
logs it. ``operator-key rotate`` replaces it and prints the new one."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from prompt_ledger.cli.app import SERVER_PANEL, app
from prompt_ledger.cli.failures import CLIError, ExitCode
from prompt_ledger.cli.output import JsonFlag, Output

if TYPE_CHECKING:
    from prompt_ledger.services.catalog import CatalogLoad
    from prompt_ledger.services.operator import NewOperatorKey, StoredOperatorKey
    from prompt_ledger.settings import Settings

RULE = "=" * 78


@dataclass(frozen=True)
class AfterMigrate:
    models: CatalogLoad | None
    operator: str
    """``api_key`` (API_KEY is set), ``development`` (the dev key), ``created``, ``stored``."""
    new_key: NewOperatorKey | None = None
    stored: StoredOperatorKey | None = None


async def after_migrate(settings: Settings, *, models: bool) -> AfterMigrate:
    from prompt_ledger.container import Container

    container = Container(settings)
    try:
        loaded = await container.catalog.seed() if models else None
        if settings.api_key is not None:
            return AfterMigrate(loaded, "api_key")
        if not settings.is_production:
            return AfterMigrate(loaded, "development")
        created = await container.operator_keys.ensure()
        if created is not None:
            return AfterMigrate(loaded, "created", new_key=created, stored=created.stored)
        return AfterMigrate(loaded, "stored", stored=await container.operator_keys.stored())
    finally:
        await container.aclose()


def report_migrate(out: Output, revision: str, done: AfterMigrate | None) -> None:
    data: dict[str, Any] = {"revision": revision}
    if done is not None:
        data["models"] = None if done.models is None else dataclasses.asdict(done.models)
        data["operator_key"] = _operator_json(done)
    if out.json_mode:
        out.json(data)
        return
    out.line(f"Database migrated to {revision}.")
    if done is None:
        return
    if done.models is not None:
        m = done.models
        out.line(
            f"Models: {m.curated} curated ({m.added} added, {m.updated} updated); "
            "models changed through the API are kept."
        )
    if done.new_key is not None:
        banner(out, done.new_key.secret, "generated for this instance (API_KEY is not set)")
    elif done.operator == "stored" and done.stored is not None:
        out.line(
            f"Operator key: stored ({done.stored.prefix}..., created "
            f"{done.stored.created_at:%Y-%m-%d %H:%M} UTC); API_KEY is not set. "
            "`promptledger operator-key rotate` prints a new one."
        )
    elif done.operator == "api_key":
        out.line("Operator key: API_KEY.")


def _operator_json(done: AfterMigrate) -> dict[str, Any]:
    document: dict[str, Any] = {"source": done.operator}
    if done.stored is not None:
        document["prefix"] = done.stored.prefix
        document["created_at"] = done.stored.created_at
    if done.new_key is not None:
        document["key"] = done.new_key.secret  # shown once, on purpose
    return document


def banner(out: Output, secret: str, why: str) -> None:
    """The one place the operator key is printed (stdout, never a log record)."""
    for line in [
        RULE,
        f"OPERATOR KEY, {why}. Shown once: only its hash is stored.",
        "",
        f"    {secret}",
        "",
        "Send it as 'X-API-Key: <key>' (or PROMPT_LEDGER_API_KEY for the SDK and CLI).",
        "Lost it? `promptledger operator-key rotate` prints a new one and retires this one.",
        "Setting API_KEY on every service replaces it altogether.",
        RULE,
    ]:
        out.line(line)


operator_app = typer.Typer(
    help="The instance operator key when API_KEY is not set (stored hashed).",
    no_args_is_help=True,
)
app.add_typer(operator_app, name="operator-key", rich_help_panel=SERVER_PANEL)


@operator_app.command("rotate")
def rotate(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Generate a new operator key, print it once and retire the old one (every process)."""
    out = Output(json_output)
    settings = _stored_key_settings(ctx, out)
    created = asyncio.run(_rotate(settings))
    if json_output:
        out.json({"key": created.secret, "prefix": created.stored.prefix})
        return
    banner(out, created.secret, "new; the previous one no longer works")


@operator_app.command("show")
def show(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Say which operator key this environment uses (never the key itself)."""
    from prompt_ledger.cli.config import database_settings

    out = Output(json_output)
    settings = database_settings(ctx)
    if settings.api_key is not None or not settings.is_production:
        source = "api_key" if settings.api_key is not None else "development"
        out.emit(
            {"source": source},
            lambda: out.line(
                "API_KEY is set: it is the operator key."
                if source == "api_key"
                else "Not production: the operator key is the development key."
            ),
        )
        return
    stored = asyncio.run(_stored(settings))
    if stored is None:
        out.fail(CLIError("No operator key yet: run `promptledger migrate`.", ExitCode.NOT_FOUND))
    out.emit(
        {"source": "stored", "prefix": stored.prefix, "created_at": stored.created_at},
        lambda: out.line(
            f"Stored operator key {stored.prefix}..., created "
            f"{stored.created_at:%Y-%m-%d %H:%M} UTC."
        ),
    )


def _stored_key_settings(ctx: typer.Context, out: Output) -> Settings:
    """The settings of a process that uses the stored key: production, no API_KEY (and the
    database answering)."""
    from prompt_ledger.cli.config import database_settings

    settings = database_settings(ctx)
    if not settings.is_production and settings.api_key is None:
        out.fail(
            CLIError(
                "Not production: the operator key is the development key "
                "(a stored key is used only with ENVIRONMENT=production and no API_KEY).",
                ExitCode.USAGE,
            )
        )
    if settings.api_key is not None:
        out.fail(
            CLIError(
                "API_KEY is set here, and processes with API_KEY use it as the operator key: "
                "change API_KEY where it is set instead (or unset it to use a stored key).",
                ExitCode.USAGE,
            )
        )
    return settings


async def _rotate(settings: Settings) -> NewOperatorKey:
    from prompt_ledger.container import Container

    container = Container(settings)
    try:
        return await container.operator_keys.rotate()
    finally:
        await container.aclose()


async def _stored(settings: Settings) -> StoredOperatorKey | None:
    from prompt_ledger.container import Container

    container = Container(settings)
    try:
        return await container.operator_keys.stored()
    finally:
        await container.aclose()
