"""The client commands' connection to a server: the global ``--url`` / ``--api-key`` options
and an SDK client whose errors become messages and exit codes.

The SDK is imported when a client command runs, so ``promptledger --help`` and the server
commands never load it; nothing of the server is imported here (the base install suffices)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from prompt_ledger.cli.output import CLIError, ExitCode, Output

if TYPE_CHECKING:
    from prompt_ledger.sdk import Page, PromptLedger

T = TypeVar("T")
PAGE_SIZE = 200  # the server's largest page

ENV_URL = "PROMPT_LEDGER_URL"
ENV_KEY = "PROMPT_LEDGER_API_KEY"
DEFAULT_URL = "http://127.0.0.1:8080"
NO_KEY = (
    f"No API key: pass --api-key or set {ENV_KEY} (`promptledger dev` prints a development key)."
)


@dataclass(frozen=True, slots=True)
class Connection:
    url: str = DEFAULT_URL
    api_key: str | None = None


@contextlib.contextmanager
def session(ctx: typer.Context, out: Output) -> Iterator[PromptLedger]:
    """An SDK client for the global options; an SDK error or a :class:`CLIError` raised in the
    block is reported by ``out`` and ends the command with its exit code."""
    from prompt_ledger.sdk import PromptLedger, PromptLedgerAPIError

    connection = ctx.find_object(Connection) or Connection()
    try:
        if not connection.api_key:
            raise CLIError(NO_KEY, ExitCode.AUTH)
        with PromptLedger(connection.url, connection.api_key) as ledger:
            yield ledger
    except (PromptLedgerAPIError, CLIError) as error:
        out.fail(error)


def take(fetch: Callable[..., Page[T]], limit: int, /, *args: Any, **filters: Any) -> list[T]:
    """Up to ``limit`` items of a list, page after page."""
    items: list[T] = []
    cursor: str | None = None
    while len(items) < limit:
        page = fetch(*args, **filters, limit=min(PAGE_SIZE, limit - len(items)), cursor=cursor)
        items.extend(page.items)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    return items[:limit]
