"""``promptledger traces``: list traces and show one as a tree (application spans and the
executions' spans)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from prompt_ledger.cli.app import CLIENT_PANEL, app
from prompt_ledger.cli.dates import date_option, utc
from prompt_ledger.cli.output import JsonFlag, Output, dash, usd, when
from prompt_ledger.cli.session import session, take

if TYPE_CHECKING:
    from prompt_ledger.sdk import TraceSpan, TraceTree

traces_app = typer.Typer(help="Traces: list them and show one as a tree.", no_args_is_help=True)
app.add_typer(traces_app, name="traces", rich_help_panel=CLIENT_PANEL)


class TraceStatus(StrEnum):
    ok = "ok"
    error = "error"


@traces_app.command("list")
def list_traces(
    ctx: typer.Context,
    *,
    service: Annotated[str | None, typer.Option(help="Only traces with this service.")] = None,
    status: Annotated[
        TraceStatus | None, typer.Option(help="error: some span failed; ok: none did.")
    ] = None,
    prompt: Annotated[
        str | None, typer.Option(help="Only traces holding an execution of this prompt.")
    ] = None,
    min_duration: Annotated[
        int | None, typer.Option("--min-duration", min=0, help="Only traces this long (ms).")
    ] = None,
    since: Annotated[datetime | None, date_option("Only traces started since (UTC).")] = None,
    until: Annotated[datetime | None, date_option("Only traces started before (UTC).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 20,
    json_output: JsonFlag = False,
) -> None:
    """List traces, newest first."""
    out = Output(json_output)
    with session(ctx) as ledger:
        found = take(
            ledger.list_traces,
            limit,
            service=service,
            status=None if status is None else status.value,
            prompt_name=prompt,
            min_duration_ms=min_duration,
            since=utc(since),
            until=utc(until),
        )
    out.records(
        found,
        ["Trace", "Name", "Services", "Spans", "Status", "Duration", "Cost", "Started"],
        lambda t: [
            t.trace_id,
            t.name,
            ", ".join(t.services) or "-",
            str(t.span_count),
            t.status,
            f"{t.duration_ms} ms",
            usd(t.cost_usd),
            when(t.started_at),
        ],
    )


@traces_app.command("show")
def show(
    ctx: typer.Context,
    trace_id: Annotated[str, typer.Argument(help="Trace id.", show_default=False)],
    json_output: JsonFlag = False,
) -> None:
    """Show one trace as a tree: each span under its parent, with its duration, status and
    (for an execution's span) its prompt version, tokens and cost."""
    out = Output(json_output)
    with session(ctx) as ledger:
        tree = ledger.get_trace(trace_id)
    out.emit(tree.to_dict(), lambda: _show(out, tree))


def _show(out: Output, tree: TraceTree) -> None:
    out.fields(
        [
            ("Trace", tree.trace_id),
            ("Status", f"{tree.status} ({tree.error_count} of {tree.span_count} spans failed)"),
            ("Services", ", ".join(tree.services) or "-"),
            ("Started", when(tree.started_at)),
            ("Duration", f"{tree.duration_ms} ms"),
            ("Cost", usd(tree.cost_usd)),
        ]
    )
    out.line()
    for prefix, span in _branches(tree.spans):
        out.line(f"{prefix}{_label(span)}")


def _branches(spans: list[TraceSpan]) -> list[tuple[str, TraceSpan]]:
    """Each span with its tree prefix (``├─``, ``└─``, ``│``), from the depth-first order."""
    lines: list[tuple[str, TraceSpan]] = []
    for i, span in enumerate(spans):
        last = all(later.depth != span.depth for later in _siblings_after(spans, i))
        stems = "".join(
            "   " if _closed(spans, i, depth) else "│  " for depth in range(1, span.depth)
        )
        lines.append((stems + ("" if span.depth == 0 else ("└─ " if last else "├─ ")), span))
    return lines


def _siblings_after(spans: list[TraceSpan], i: int) -> list[TraceSpan]:
    """The spans after ``i`` up to the end of its parent's subtree."""
    depth, after = spans[i].depth, []
    for later in spans[i + 1 :]:
        if later.depth < depth:
            break
        after.append(later)
    return after


def _closed(spans: list[TraceSpan], i: int, depth: int) -> bool:
    """Whether the ancestor of ``spans[i]`` at ``depth`` was the last of its siblings."""
    for j in range(i, -1, -1):
        if spans[j].depth == depth:
            return all(later.depth != depth for later in _siblings_after(spans, j))
    return True


def _label(span: TraceSpan) -> str:
    parts = [span.name, f"[{span.kind}]", dash(span.duration_ms) + " ms"]
    if span.status == "error":
        parts.append(f"ERROR {span.error_message or ''}".rstrip())
    if span.service_name:
        parts.append(span.service_name)
    if span.prompt_name:
        parts.append(f"{span.prompt_name} v{span.version_number}")
    if span.model:
        parts.append(span.model)
    if span.prompt_tokens is not None or span.completion_tokens is not None:
        parts.append(f"{dash(span.prompt_tokens)}+{dash(span.completion_tokens)} tokens")
    if span.cost_usd is not None:
        parts.append(usd(span.cost_usd))
    return "  ".join(parts)
