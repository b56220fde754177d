"""The root Typer app and the shared console."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    help="PromptLedger: versioned prompts, executions and their ledger.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
console = Console()
err_console = Console(stderr=True)
