"""The root Typer app, its global options and the shared consoles."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from prompt_ledger import __version__
from prompt_ledger.cli.failures import DEBUG_MODE, EXIT_CODES, GuardedGroup
from prompt_ledger.cli.session import DEFAULT_URL, ENV_KEY, ENV_URL, Connection

SERVER_PANEL = "Server (needs the server extra)"
CLIENT_PANEL = "Client (talks to a server)"
EPILOG = (
    "Client commands talk to a server: --url and --api-key, or "
    f"{ENV_URL} and {ENV_KEY}. Add --json for output meant for scripts.\n\n"
    "Errors are one line on stderr (the traceback with --debug or DEBUG=true). Exit codes:\n\n"
    + "\n".join(f"- {int(code)}: {meaning}" for code, meaning in EXIT_CODES.items())
)

app = typer.Typer(
    cls=GuardedGroup,
    help="PromptLedger: versioned prompts, executions and their ledger.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)
console = Console()


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"promptledger {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    url: Annotated[
        str,
        typer.Option(
            "--url", envvar=ENV_URL, help="Server of the client commands.", show_envvar=True
        ),
    ] = DEFAULT_URL,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar=ENV_KEY,
            help="API key of the client commands (sent as X-API-Key).",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show the traceback of an error, and debug logs (also: DEBUG=true).",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    ctx.obj = Connection(url=url, api_key=api_key or None)
    if debug:
        ctx.meta[DEBUG_MODE] = True
