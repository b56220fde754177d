"""The settings of a server command (``migrate``, ``serve``, ``worker``, operator keys, ...):
validated, with logging configured, and the database answering when the command needs it.

Nothing of the server is imported at module level (the base install runs ``--help``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import typer

from prompt_ledger.cli.failures import DEBUG_MODE

if TYPE_CHECKING:
    from prompt_ledger.settings import Settings


def command_settings(ctx: typer.Context, *, log_level: int = logging.ERROR) -> Settings:
    """The validated settings (``--debug`` turns DEBUG on), and logging at ``log_level``: a
    one-shot command's only output is its result or its error, a service logs what it does."""
    from prompt_ledger import logs
    from prompt_ledger.startup import load_settings

    settings = load_settings(debug=True if ctx.meta.get(DEBUG_MODE) else None)
    logs.configure(log_level, debug=settings.debug)
    return settings


def database_settings(ctx: typer.Context, *, log_level: int = logging.ERROR) -> Settings:
    """The settings of a command that needs the database: its URL set, and answering."""
    from prompt_ledger.startup import check_database

    settings = command_settings(ctx, log_level=log_level)
    check_database(settings.require_database_url(), settings.db_connect_timeout)
    return settings
