"""What the client commands print, in one place: a table (or plain text) for people, JSON for
scripts (``--json``), errors on stderr, and the exit code each error maps to.

Tables are rendered at the terminal's width (``COLUMNS`` when set; unwrapped in a pipe),
without trailing spaces; colour only on a terminal. Progress bars and spinners go to stderr,
and only on a terminal without ``--json``, so stdout stays clean for pipes."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import IntEnum
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from prompt_ledger.sdk.errors import PromptLedgerAPIError


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    NOT_FOUND = 3
    CONFLICT = 4
    VALIDATION = 5
    AUTH = 6
    UNAVAILABLE = 7
    FAILED = 8


EXIT_CODES: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.UNEXPECTED: "unexpected error",
    ExitCode.USAGE: "usage error: unknown command or option, missing or invalid argument",
    ExitCode.NOT_FOUND: "not found: prompt, version, label, execution, project or key",
    ExitCode.CONFLICT: "conflict: e.g. editing a tracking-mode prompt, a duplicate project",
    ExitCode.VALIDATION: (
        "invalid input: refused by the server (400/422: template errors, missing variables, "
        "unknown model) or a template file that cannot be read"
    ),
    ExitCode.AUTH: "no API key, or the key is unknown, revoked or lacks the scope",
    ExitCode.UNAVAILABLE: "server unreachable, unavailable or too slow (5xx, 429, timeouts)",
    ExitCode.FAILED: "the execution failed: the provider failed, or it ended failed/cancelled",
}

UNWRAPPED = 1000
"""Table width off a terminal when ``COLUMNS`` is unset: rows are never wrapped."""

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of text.")]


class CLIError(Exception):
    """A failure of a client command, with its exit code and, for ``--json``, its details."""

    def __init__(
        self, message: str, code: ExitCode, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = dict(details or {})


def exit_code_for(error: PromptLedgerAPIError) -> ExitCode:
    """The exit code of an SDK error."""
    from prompt_ledger.sdk import errors

    mapping: list[tuple[type[Exception], ExitCode]] = [
        (errors.ProviderError, ExitCode.FAILED),
        (errors.NotFoundError, ExitCode.NOT_FOUND),
        (errors.ConflictError, ExitCode.CONFLICT),
        (errors.ValidationError, ExitCode.VALIDATION),
        (errors.BadRequestError, ExitCode.VALIDATION),
        (errors.AuthenticationError, ExitCode.AUTH),
        (errors.PermissionDeniedError, ExitCode.AUTH),
        (errors.ConfigurationError, ExitCode.AUTH),
        (errors.APIConnectionError, ExitCode.UNAVAILABLE),
        (errors.ServerError, ExitCode.UNAVAILABLE),
        (errors.RateLimitError, ExitCode.UNAVAILABLE),
        (errors.WaitTimeoutError, ExitCode.UNAVAILABLE),
    ]
    return next((code for kind, code in mapping if isinstance(error, kind)), ExitCode.UNEXPECTED)


def as_cli_error(error: PromptLedgerAPIError) -> CLIError:
    """The SDK error as the CLI reports it: the server's explanation (``detail``) with the
    field problems it lists, or the SDK's message; for ``--json`` the problem document."""
    from prompt_ledger.sdk import errors

    explained = isinstance(error, errors.APIStatusError) and bool(error.body.get("detail"))
    lines = [error.detail if explained else error.message]
    if not (isinstance(error, errors.ValidationError) and error.missing):  # the detail names them
        for problem in error.errors or []:
            where = ".".join(str(part) for part in problem.get("loc", []))
            lines.append(f"  {where}: {problem.get('msg', '')}" if where else f"  {problem}")
    if isinstance(error, errors.PermissionDeniedError) and error.body.get("required_scope"):
        lines.append(f"  required scope: {error.body['required_scope']}")
    if isinstance(error, errors.APIStatusError) and error.execution_id:
        lines.append(f"  execution: {error.execution_id}")
    if type(error) is errors.APIConnectionError:
        lines.append("  Is the server running? Set --url or PROMPT_LEDGER_URL.")
    details: dict[str, Any] = {"status": error.status}
    if error.body:
        details["problem"] = error.body
    return CLIError("\n".join(lines), exit_code_for(error), details)


@dataclass(frozen=True, slots=True)
class Output:
    """How one command prints: text for people, or JSON with ``--json``."""

    json_mode: bool = False

    # --- stdout ----------------------------------------------------------------------------

    def json(self, data: Any) -> None:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=_default))

    def line(self, text: str = "") -> None:
        typer.echo(text)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        typer.echo(render_table(headers, rows), color=None)

    def fields(self, pairs: Sequence[tuple[str, str]]) -> None:
        """``Key:  value`` lines, the values aligned."""
        width = max(len(key) for key, _ in pairs) + 2
        for key, value in pairs:
            typer.echo(f"{key + ':':<{width}}{value}".rstrip())

    def emit(self, data: Any, text: Callable[[], None]) -> None:
        """``data`` as JSON with ``--json``, else what ``text`` prints."""
        if self.json_mode:
            self.json(data)
        else:
            text()

    # --- stderr ----------------------------------------------------------------------------

    def note(self, text: str) -> None:
        """A remark for the person at the terminal (stderr; not with ``--json``)."""
        if not self.json_mode:
            typer.echo(text, err=True)

    def fail(self, error: CLIError | PromptLedgerAPIError) -> NoReturn:
        """Report ``error`` on stderr and exit with its code."""
        failure = error if isinstance(error, CLIError) else as_cli_error(error)
        if self.json_mode:
            document = {
                "error": failure.message,
                "exit_code": int(failure.code),
                **failure.details,
            }
            typer.echo(json.dumps(document, ensure_ascii=False, default=_default), err=True)
        else:
            typer.echo(f"Error: {failure.message}", err=True)
        raise typer.Exit(int(failure.code))

    @contextlib.contextmanager
    def progress(self, description: str, total: int) -> Iterator[Callable[[], None]]:
        """A progress bar on stderr (terminals only, not with ``--json``); call to advance."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        console = Console(stderr=True)
        disabled = self.json_mode or not console.is_terminal or total < 2
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
            disable=disabled,
        ) as bar:
            task = bar.add_task(description, total=total)
            yield lambda: bar.advance(task)

    def waiting(self, description: str) -> contextlib.AbstractContextManager[object]:
        """A spinner on stderr while waiting (terminals only, not with ``--json``)."""
        console = Console(stderr=True)
        if self.json_mode or not console.is_terminal:
            return contextlib.nullcontext()
        return console.status(description)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A borderless table with a rule under the header, without trailing spaces; at the
    terminal's width (``COLUMNS`` when set), else unwrapped."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = UNWRAPPED  # a pipe: one line per row, for grep and awk
    with console.capture() as captured:
        console.print(table)
    return "\n".join(line.rstrip() for line in captured.get().splitlines())


def when(moment: datetime | None) -> str:
    """A timestamp in UTC, to the second; ``-`` when absent."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def dash(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def usd(value: Decimal | None) -> str:
    return "-" if value is None else f"${value:.6f}"


def _default(value: object) -> str:
    """JSON for what ``json`` cannot encode (datetimes, decimals, UUIDs)."""
    return value.isoformat() if isinstance(value, datetime) else str(value)
