"""The ``promptledger`` command line."""

from __future__ import annotations

from prompt_ledger.cli import server  # noqa: F401 - registers the server commands
from prompt_ledger.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
