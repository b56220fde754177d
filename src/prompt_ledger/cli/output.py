"""What the commands print, in one place: a table (or plain text) for people, JSON for scripts
(``--json``), errors on stderr (how: :mod:`prompt_ledger.cli.failures`).

Tables are rendered at the terminal's width (``COLUMNS`` when set; unwrapped in a pipe),
without trailing spaces; colour only on a terminal. Progress bars and spinners go to stderr,
and only on a terminal without ``--json``, so stdout stays clean for pipes."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Protocol, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from prompt_ledger.cli.failures import JSON_MODE, CLIError, as_cli_error, report

if TYPE_CHECKING:
    from prompt_ledger.sdk.errors import PromptLedgerAPIError


class Record(Protocol):
    """What the SDK returns: a model with its JSON form."""

    def to_dict(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Record)

UNWRAPPED = 1000
"""Table width off a terminal when ``COLUMNS`` is unset: rows are never wrapped."""


def _remember_json(ctx: typer.Context, value: bool) -> bool:
    """``--json`` is noted for :mod:`prompt_ledger.cli.failures`: errors are JSON too."""
    if value:
        ctx.meta[JSON_MODE] = True
    return value


JsonFlag = Annotated[
    bool,
    typer.Option(
        "--json", help="Print JSON (for scripts) instead of text.", callback=_remember_json
    ),
]


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

    def records(
        self, items: Sequence[R], headers: Sequence[str], row: Callable[[R], Sequence[str]]
    ) -> None:
        """What a list command prints: the items' records as a JSON list with ``--json``, else
        a table of one ``row`` per item."""
        self.emit(
            [item.to_dict() for item in items],
            lambda: self.table(headers, [row(item) for item in items]),
        )

    # --- stderr ----------------------------------------------------------------------------

    def note(self, text: str) -> None:
        """A remark for the person at the terminal (stderr; not with ``--json``)."""
        if not self.json_mode:
            typer.echo(text, err=True)

    def fail(self, error: CLIError | PromptLedgerAPIError) -> NoReturn:
        """Report ``error`` on stderr and exit with its code."""
        report(
            error if isinstance(error, CLIError) else as_cli_error(error), json_mode=self.json_mode
        )

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
    """JSON for what ``json`` cannot encode: datetimes, decimals (fixed-point, never ``0E-8``),
    UUIDs."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)
