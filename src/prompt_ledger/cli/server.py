"""Server-side commands: run the stack, its processes, migrations and upkeep.

They need the ``server`` extra (``dev`` without ``DATABASE_URL``: the ``local`` extra). Server
modules are imported inside each command, after the settings are loaded (which says which extra
is missing), so the client commands work on the base install. Each command checks what it needs
first (settings, port, database) and fails with one line (:mod:`prompt_ledger.cli.failures`)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from prompt_ledger.cli.app import SERVER_PANEL, app, console
from prompt_ledger.cli.config import command_settings, database_settings
from prompt_ledger.cli.output import JsonFlag, Output

if TYPE_CHECKING:
    from prompt_ledger.services.catalog import CatalogLoad
    from prompt_ledger.settings import Settings

DATA_DIR = Path(".promptledger")
PortOption = Annotated[int | None, typer.Option(help="Port (default: $PORT or 8080).")]


@app.command(rich_help_panel=SERVER_PANEL)
def migrate(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    models: Annotated[
        bool,
        typer.Option(
            "--models/--no-models", help="Load the curated model catalogue (at head only)."
        ),
    ] = True,
    json_output: JsonFlag = False,
) -> None:
    """Upgrade the database schema (ours and procrastinate's) to REVISION; at head, load the
    curated model catalogue and, in production without API_KEY, create the operator key (printed
    once). The release / pre-deploy step of every platform."""
    settings = database_settings(ctx)
    from alembic.util.exc import CommandError

    from prompt_ledger import migrate as migrations
    from prompt_ledger.cli.operator import after_migrate, report_migrate

    try:
        migrations.upgrade(
            settings.require_database_url(), revision, schema=settings.promptledger_schema_dir
        )
    except CommandError as exc:  # e.g. an unknown revision
        raise typer.BadParameter(str(exc), param_hint="REVISION") from None
    done = asyncio.run(after_migrate(settings, models=models)) if revision == "head" else None
    report_migrate(Output(json_output), revision, done)


@app.command("seed-models", rich_help_panel=SERVER_PANEL)
def seed_models(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Load the curated model list with prices (`migrate` does it too): adds missing models,
    updates those still owned by the catalogue, never one changed through the API."""
    loaded = asyncio.run(_seed(database_settings(ctx)))
    Output(json_output).emit(
        dataclasses.asdict(loaded),
        lambda: console.print(
            f"[green]{loaded.curated} curated models: {loaded.added} added, "
            f"{loaded.updated} updated.[/green]"
        ),
    )


async def _seed(settings: Settings) -> CatalogLoad:
    from prompt_ledger.container import Container

    container = Container(settings)
    try:
        return await container.catalog.seed()
    finally:
        await container.aclose()


@app.command(rich_help_panel=SERVER_PANEL)
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "0.0.0.0",  # noqa: S104
    port: PortOption = None,
) -> None:
    """Serve every function from one gateway process."""
    from prompt_ledger.startup import check_database, claim_port

    settings = command_settings(ctx, log_level=logging.INFO)
    sock = claim_port(host, port or settings.port)
    try:
        check_database(settings.require_database_url(), settings.db_connect_timeout)
        from prompt_ledger.gateway import create_gateway
        from prompt_ledger.http.serving import serve_on
    except BaseException:
        sock.close()
        raise
    serve_on(
        sock,
        create_gateway(settings=settings),
        log_level="debug" if settings.debug else "info",
        read_timeout=settings.request_read_timeout,
    )


@app.command(rich_help_panel=SERVER_PANEL)
def function(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Function to serve, e.g. registry.")],
    port: PortOption = None,
) -> None:
    """Serve one function exactly as deployed (functions-framework, ASGI mode)."""
    settings = command_settings(ctx)
    from prompt_ledger.functions import FUNCTIONS
    from prompt_ledger.migrate import schema_dir
    from prompt_ledger.startup import check_database, claim_port

    if target not in FUNCTIONS:
        raise typer.BadParameter(f"unknown function {target!r}; choose from {sorted(FUNCTIONS)}")
    port = port or settings.port
    claim_port("0.0.0.0", port).close()  # noqa: S104 - functions-framework binds every interface
    check_database(settings.require_database_url(), settings.db_connect_timeout)
    source = schema_dir(settings.promptledger_schema_dir).parent / "functions" / "main.py"
    argv = [
        sys.executable,
        "-m",
        "functions_framework",
        "--source",
        str(source),
        "--target",
        target,
        "--port",
        str(port),
    ]
    os.execv(sys.executable, argv)  # noqa: S606 - replace this process with the function server


@app.command(rich_help_panel=SERVER_PANEL)
def worker(ctx: typer.Context) -> None:
    """Run a queue worker: queued executions and the periodic upkeep."""
    settings = database_settings(ctx, log_level=logging.INFO)
    from prompt_ledger.worker import loop_factory, run_worker

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(run_worker(settings))


jobs_app = typer.Typer(help="Run one periodic task once (for platform cron).", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs", rich_help_panel=SERVER_PANEL)


@jobs_app.command("recover")
def jobs_recover(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Retry stalled jobs, re-queue orphaned executions, fail abandoned sync runs."""
    from prompt_ledger.services.maintenance import RecoveryReport

    report = asyncio.run(_maintenance(database_settings(ctx), "recover"))
    assert isinstance(report, RecoveryReport)
    Output(json_output).emit(
        dataclasses.asdict(report), lambda: console.print(f"[green]recover:[/green] {report}")
    )


@jobs_app.command("prune")
def jobs_prune(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Delete finished queue jobs older than JOB_RETENTION_HOURS and application spans older
    than TRACE_RETENTION_DAYS; fold pending analytics."""
    asyncio.run(_maintenance(database_settings(ctx), "prune"))
    Output(json_output).emit({"pruned": True}, lambda: console.print("[green]prune: done[/green]"))


async def _maintenance(settings: Settings, task: str) -> object:
    from prompt_ledger.container import Container

    container = Container(settings)
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
    ctx: typer.Context,
    port: PortOption = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
) -> None:
    """Run the whole stack locally: embedded PostgreSQL when DATABASE_URL is unset, migrations,
    the model list, the gateway and a worker. Prints the URL and the API key."""
    from prompt_ledger.startup import MissingExtra, claim_port, need

    try:
        need("server")
    except MissingExtra as missing:  # dev needs the server and, usually, the embedded database
        raise MissingExtra("local", missing.missing) from None
    settings = command_settings(ctx, log_level=logging.WARNING)
    sock = claim_port(host, port or settings.port)  # a busy port is said before anything else
    url = f"http://{host}:{sock.getsockname()[1]}"
    try:
        from prompt_ledger.devstack import banner, prepare
        from prompt_ledger.gateway import create_gateway
        from prompt_ledger.http.serving import serve_on

        status = Console(stderr=True).status
        stack = prepare(settings, DATA_DIR, status)
    except BaseException:
        sock.close()
        raise
    lines = Table.grid(padding=(0, 2))
    for label, value in banner(stack, url):
        lines.add_row(f"[bold]{label}[/bold]", value)
    console.print(Panel.fit(lines, title="promptledger dev", border_style="green"))
    serve_on(
        sock,
        create_gateway(settings=stack.settings, with_worker=True),
        log_level="debug" if settings.debug else "warning",
        access_log=settings.debug,
        on_ready=lambda: console.print(f"[green]Ready[/green] at {url}", highlight=False),
        read_timeout=settings.request_read_timeout,
    )
