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

from prompt_ledger.cli.failures import CLIError, ExitCode

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
def session(ctx: typer.Context) -> Iterator[PromptLedger]:
    """An SDK client for the global options. Its errors (and a :class:`CLIError`) raised in
    the block end the command: :mod:`prompt_ledger.cli.failures` reports them."""
    from prompt_ledger.sdk import PromptLedger

    connection = ctx.find_object(Connection) or Connection()
    check_url(connection.url)
    if not connection.api_key:
        raise CLIError(NO_KEY, ExitCode.AUTH)
    with PromptLedger(connection.url, connection.api_key) as ledger:
        yield ledger


def check_url(url: str) -> None:
    """Refuse a server URL that cannot be one (before any request is attempted)."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        parsed = None
    if parsed is None or parsed.scheme not in {"http", "https"} or not parsed.host:
        raise CLIError(
            f"Invalid server URL {url!r} (--url or {ENV_URL}): expected "
            "http://host:port or https://host",
            ExitCode.CONFIG,
        )


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
