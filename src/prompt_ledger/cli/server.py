"""Server-side commands: run the stack, its processes, migrations and upkeep.

They need the ``server`` extra; server modules are imported inside each command so the client
commands work on the base install."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.panel import Panel

from prompt_ledger.cli.app import SERVER_PANEL, app, console
from prompt_ledger.cli.output import JsonFlag, Output

if TYPE_CHECKING:
    from prompt_ledger.settings import Settings

DATA_DIR = Path(".promptledger")


def _settings() -> Settings:
    from prompt_ledger.settings import Settings

    return Settings()


@app.command(rich_help_panel=SERVER_PANEL)
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    json_output: JsonFlag = False,
) -> None:
    """Upgrade the database schema (ours and procrastinate's) to REVISION."""
    from prompt_ledger import migrate as migrations

    migrations.upgrade(_settings().require_database_url(), revision)
    Output(json_output).emit(
        {"revision": revision},
        lambda: console.print(f"[green]Database migrated to {revision}.[/green]"),
    )


@app.command("seed-models", rich_help_panel=SERVER_PANEL)
def seed_models(json_output: JsonFlag = False) -> None:
    """Load the curated model list with prices (idempotent)."""
    count = asyncio.run(_seed(_settings()))
    Output(json_output).emit(
        {"models": count}, lambda: console.print(f"[green]{count} models loaded.[/green]")
    )


async def _seed(settings: Settings) -> int:
    from prompt_ledger.container import Container

    container = Container(settings)
    try:
        return await container.catalog.seed()
    finally:
        await container.aclose()


@app.command(rich_help_panel=SERVER_PANEL)
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "0.0.0.0",  # noqa: S104
    port: Annotated[int | None, typer.Option(help="Port (default: $PORT or 8080).")] = None,
) -> None:
    """Serve every function from one gateway process."""
    import uvicorn

    from prompt_ledger.gateway import create_gateway

    settings = _settings()
    uvicorn.run(
        create_gateway(settings=settings),
        host=host,
        port=port or settings.port,
        log_level="debug" if settings.debug else "info",
    )


@app.command(rich_help_panel=SERVER_PANEL)
def function(
    target: Annotated[str, typer.Argument(help="Function to serve, e.g. registry.")],
    port: Annotated[int | None, typer.Option(help="Port (default: $PORT or 8080).")] = None,
) -> None:
    """Serve one function exactly as deployed (functions-framework, ASGI mode)."""
    from prompt_ledger.functions import FUNCTIONS
    from prompt_ledger.migrate import schema_dir

    if target not in FUNCTIONS:
        raise typer.BadParameter(f"unknown function {target!r}; choose from {sorted(FUNCTIONS)}")
    source = schema_dir().parent / "functions" / "main.py"
    argv = [
        sys.executable,
        "-m",
        "functions_framework",
        "--source",
        str(source),
        "--target",
        target,
        "--port",
        str(port or _settings().port),
    ]
    os.execv(sys.executable, argv)  # noqa: S606 - replace this process with the function server


@app.command(rich_help_panel=SERVER_PANEL)
def worker() -> None:
    """Run a queue worker: queued executions and the periodic upkeep."""
    from prompt_ledger.worker import main as worker_main

    worker_main()


jobs_app = typer.Typer(help="Run one periodic task once (for platform cron).", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs", rich_help_panel=SERVER_PANEL)


@jobs_app.command("recover")
def jobs_recover(json_output: JsonFlag = False) -> None:
    """Retry stalled jobs, re-queue orphaned executions, fail abandoned sync runs."""
    report = asyncio.run(_maintenance("recover"))
    Output(json_output).emit(
        dataclasses.asdict(report)
        if dataclasses.is_dataclass(report) and not isinstance(report, type)
        else {"report": str(report)},
        lambda: console.print(f"[green]recover:[/green] {report}"),
    )


@jobs_app.command("prune")
def jobs_prune(json_output: JsonFlag = False) -> None:
    """Delete finished queue jobs older than JOB_RETENTION_HOURS (the ledger keeps everything)."""
    asyncio.run(_maintenance("prune"))
    Output(json_output).emit({"pruned": True}, lambda: console.print("[green]prune: done[/green]"))


async def _maintenance(task: str) -> object:
    from prompt_ledger.container import Container

    container = Container(_settings())
    await container.open()
    try:
        if task == "recover":
            return await container.maintenance.recover()
        await container.maintenance.prune()
        return None
    finally:
        await container.aclose()


@app.command(rich_help_panel=SERVER_PANEL)
def dev(
    port: Annotated[int | None, typer.Option(help="Port (default: $PORT or 8080).")] = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
) -> None:
    """Run the whole stack locally: embedded PostgreSQL when DATABASE_URL is unset, migrations,
    the model list and the gateway. Prints the URL and the API key."""
    import uvicorn

    from prompt_ledger import migrate as migrations
    from prompt_ledger.gateway import create_gateway

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = _settings()
    if not settings.database_url:
        from prompt_ledger.embedded import EmbeddedPostgres

        with console.status("Starting embedded PostgreSQL..."):
            server = EmbeddedPostgres(DATA_DIR.resolve() / "pgdata")
        settings = settings.model_copy(update={"database_url": server.url})
        db_note = f"embedded PostgreSQL (data in {DATA_DIR / 'pgdata'})"
    else:
        db_note = "DATABASE_URL"
    with console.status("Migrating..."):
        migrations.upgrade(settings.require_database_url())
    count = asyncio.run(_seed(settings))
    port = port or settings.port
    no_keys = not (
        settings.openai_api_key or settings.openai_base_url or settings.anthropic_api_key
    )
    if no_keys:
        settings = settings.model_copy(update={"demo_fallback": True})
    provider_note = (
        "[magenta]offline demo provider[/magenta] answers every model (no provider key set); "
        "executions are recorded with served_by=demo"
        if no_keys
        else "real providers (keys from the environment)"
    )
    console.print(
        Panel.fit(
            f"[bold]PromptLedger[/bold] is running at [cyan]http://{host}:{port}[/cyan]\n"
            f"Console:  open that URL and sign in with the API key; API docs at "
            f"[cyan]http://{host}:{port}/docs[/cyan]\n"
            f"API key:  [yellow]{settings.api_key.get_secret_value()}[/yellow]\n"
            f"Database: {db_note}\nModels:   {count} loaded\nLLM:      {provider_note}\n"
            f"Worker:   running in this process\n\n"
            f"Try:  curl -H 'X-API-Key: {settings.api_key.get_secret_value()}' "
            f"http://{host}:{port}/v1/prompts",
            title="promptledger dev",
            border_style="green",
        )
    )
    uvicorn.run(
        create_gateway(settings=settings, with_worker=True), host=host, port=port, log_level="info"
    )
