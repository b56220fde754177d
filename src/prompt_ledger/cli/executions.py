"""``promptledger run`` and ``promptledger executions``: execute a prompt, read the ledger."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from prompt_ledger.cli.app import CLIENT_PANEL, app
from prompt_ledger.cli.dates import date_option, utc
from prompt_ledger.cli.failures import CLIError, ExitCode
from prompt_ledger.cli.output import JsonFlag, Output, dash, usd, when
from prompt_ledger.cli.session import session, take

if TYPE_CHECKING:
    from prompt_ledger.sdk import Execution, ExecutionStream
    from prompt_ledger.sdk.options import RunOptions

executions_app = typer.Typer(help="The ledger: list executions and show one.", no_args_is_help=True)
app.add_typer(executions_app, name="executions", rich_help_panel=CLIENT_PANEL)


def _pairs(values: list[str] | None, option: str, *, parse_json: bool) -> dict[str, Any]:
    """``k=v`` options as a dict; with ``parse_json`` a value is read as JSON when it is
    valid JSON (``temperature=0.2`` is a number), else kept as text."""
    pairs: dict[str, Any] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint=option)
        if parse_json:
            try:
                pairs[key] = json.loads(value)
            except ValueError:
                pairs[key] = value
        else:
            pairs[key] = value
    return pairs


def _variables(var: list[str] | None, vars_json: str | None) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    if vars_json is not None:
        try:
            loaded = json.loads(vars_json)
        except ValueError as exc:
            raise typer.BadParameter(f"invalid JSON: {exc}", param_hint="--vars-json") from None
        if not isinstance(loaded, dict):
            raise typer.BadParameter("expected a JSON object", param_hint="--vars-json")
        variables |= loaded
    return variables | _pairs(var, "--var", parse_json=False)


def _summary(execution: Execution) -> str:
    tokens = execution.tokens
    return (
        f"execution {execution.execution_id}: {execution.status}, "
        f"{execution.provider}/{execution.model_name} (served by {dash(execution.served_by)}), "
        f"{tokens.prompt}+{tokens.response} tokens, {usd(execution.cost_usd)}"
    )


@app.command("run", rich_help_panel=CLIENT_PANEL)
def run(
    ctx: typer.Context,
    *,
    name: Annotated[str, typer.Argument(help="Prompt to execute.", show_default=False)],
    var: Annotated[
        list[str] | None,
        typer.Option("--var", help="Template variable KEY=VALUE, as text (repeatable)."),
    ] = None,
    vars_json: Annotated[
        str | None,
        typer.Option("--vars-json", help="Template variables as a JSON object (--var wins)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="provider/model_name, e.g. openai/gpt-4o-mini (default: the version's model)."
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="Model parameter KEY=VALUE, VALUE read as JSON when it is (repeatable).",
        ),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option(
            "--env", help="Environment label to resolve (falls back to the active version)."
        ),
    ] = None,
    label: Annotated[str | None, typer.Option(help="Run the version of this label.")] = None,
    version: Annotated[int | None, typer.Option(min=1, help="Run this version.")] = None,
    correlation_id: Annotated[
        str | None, typer.Option("--correlation-id", help="Your id, kept in the ledger.")
    ] = None,
    queue: Annotated[
        bool,
        typer.Option("--async", help="Queue the run (durable) and print its execution id at once."),
    ] = False,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="With --async: wait for the result and print it."),
    ] = False,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait for the result.")] = 120.0,
    stream: Annotated[
        bool,
        typer.Option("--stream", help="Print the response as it is generated (sync runs)."),
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Execute a prompt and print the response text (--json: the whole execution record).

    A summary (execution id, model, tokens, cost) goes to stderr. With --stream the text is
    printed as the model generates it (on stderr with --json), then the summary. With --async
    the run is queued and its execution id printed; add --wait to wait for the result.
    """
    if wait and not queue:
        raise typer.BadParameter("--wait applies to --async runs", param_hint="--wait")
    if stream and queue:
        raise typer.BadParameter("--stream applies to sync runs", param_hint="--stream")
    variables = _variables(var, vars_json)
    params = _pairs(param, "--param", parse_json=True)
    if model is not None:
        provider, sep, model_name = model.partition("/")
        if not (provider and sep and model_name):
            raise typer.BadParameter("expected provider/model_name", param_hint="--model")
    out = Output(json_output)
    with session(ctx) as ledger:
        options: RunOptions = {
            "model": model,
            "params": params or None,
            "environment": env,
            "version": version,
            "label": label,
            "correlation_id": correlation_id,
        }
        if not queue:
            options["timeout"] = timeout  # a sync run waits for the LLM
            if stream:
                execution = _streamed(ledger.execute(name, variables, stream=True, **options), out)
                if out.json_mode:
                    out.json(execution.to_dict())
                out.note(_summary(execution))
                return
            execution = ledger.execute(name, variables, **options)
        else:
            execution = ledger.submit(name, variables, **options)
            if not wait:
                out.emit(execution.to_dict(), lambda: out.line(str(execution.execution_id)))
                out.note(f"queued: promptledger executions show {execution.execution_id}")
                return
            with out.waiting(f"Waiting for execution {execution.execution_id}..."):
                execution = ledger.wait(str(execution.execution_id), timeout=timeout)
    if execution.status != "succeeded":  # a queued run that failed or was cancelled
        if out.json_mode:
            out.json(execution.to_dict())
        reason = f": {execution.error_type}: {execution.error_message}"
        message = f"execution {execution.execution_id} {execution.status}"
        out.fail(CLIError(message + (reason if execution.error_type else ""), ExitCode.FAILED))
    out.emit(execution.to_dict(), lambda: out.line(execution.response_text or ""))
    out.note(_summary(execution))


def _streamed(stream: ExecutionStream, out: Output) -> Execution:
    """Print the deltas as they come (stderr with --json: stdout is the record); the
    execution. A provider failing mid-stream raises, after what came was printed."""
    with stream:
        try:
            for delta in stream:
                typer.echo(delta, nl=False, err=out.json_mode)
        finally:
            if stream.text:
                typer.echo("", err=out.json_mode)
    assert stream.execution is not None
    return stream.execution


class Status(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


@executions_app.command("list")
def list_executions(
    ctx: typer.Context,
    *,
    prompt: Annotated[str | None, typer.Option(help="Only this prompt's executions.")] = None,
    version: Annotated[int | None, typer.Option(min=1, help="Only this version's.")] = None,
    status: Annotated[Status | None, typer.Option(help="Only executions in this status.")] = None,
    provider: Annotated[str | None, typer.Option(help="Only this provider's.")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model name's.")] = None,
    correlation_id: Annotated[
        str | None, typer.Option("--correlation-id", help="Only this correlation id's.")
    ] = None,
    since: Annotated[datetime | None, date_option("Only executions created since (UTC).")] = None,
    until: Annotated[datetime | None, date_option("Only executions created before (UTC).")] = None,
    min_attempts: Annotated[
        int | None,
        typer.Option(
            min=1, max=50, help="Only executions with at least this many provider attempts."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 20,
    json_output: JsonFlag = False,
) -> None:
    """List executions, newest first."""
    out = Output(json_output)
    with session(ctx) as ledger:
        found = take(
            ledger.list_executions,
            limit,
            prompt_name=prompt,
            version=version,
            status=None if status is None else status.value,
            provider=provider,
            model_name=model,
            correlation_id=correlation_id,
            since=utc(since),
            until=utc(until),
            min_attempts=min_attempts,
        )
    out.records(
        found,
        ["Execution", "Prompt", "Status", "Model", "Tokens", "Cost", "Created"],
        lambda e: [
            str(e.execution_id),
            f"{e.prompt_name} v{e.version_number}",
            e.status,
            f"{e.provider}/{e.model_name}",
            _tokens(e),
            usd(e.cost_usd),
            when(e.created_at),
        ],
    )


@executions_app.command("show")
def show(
    ctx: typer.Context,
    execution_id: Annotated[str, typer.Argument(help="Execution id.", show_default=False)],
    json_output: JsonFlag = False,
) -> None:
    """Show one execution: what ran, on what, with what, and what came back (--json adds its
    spans)."""
    out = Output(json_output)
    with session(ctx) as ledger:
        execution = ledger.get_execution(execution_id)
    out.emit(execution.to_dict(), lambda: _show(out, execution))


def _tokens(e: Execution) -> str:
    if e.prompt_tokens is None and e.response_tokens is None:
        return "-"
    return f"{e.tokens.prompt}+{e.tokens.response}"


def _attempts(e: Execution) -> str:
    """The attempt count, and what became of each provider call when there was more than one."""
    if len(e.provider_attempts) < 2:
        return str(e.attempts)
    outcomes = ", ".join(
        f"{a.outcome}{' (cost unknown)' if a.cost_unknown else ''}" for a in e.provider_attempts
    )
    return f"{e.attempts}: {outcomes}"


def _show(out: Output, e: Execution) -> None:
    latency = "-" if e.latency_ms is None else f"{e.latency_ms} ms"
    if e.provider_latency_ms is not None:
        latency += f" (provider {e.provider_latency_ms} ms)"
    pairs = [
        ("Execution", str(e.execution_id)),
        ("Status", e.status),
        ("Mode", e.execution_mode),
        ("Prompt", f"{e.prompt_name} v{e.version_number} ({dash(e.resolved_by)})"),
        ("Environment", dash(e.environment)),
        ("Model", f"{e.provider}/{e.model_name} (served by {dash(e.served_by)})"),
        ("Params", json.dumps(e.params, sort_keys=True) if e.params else "-"),
        ("Tokens", _tokens(e)),
        ("Latency", latency),
        ("Cost", usd(e.cost_usd)),
        ("Attempts", _attempts(e)),
        ("Correlation", dash(e.correlation_id)),
        ("Trace", dash(e.trace_id)),
        ("Created", when(e.created_at)),
        ("Started", when(e.started_at)),
        ("Completed", when(e.completed_at)),
    ]
    if e.error_type or e.error_message:
        pairs.append(("Error", f"{dash(e.error_type)}: {dash(e.error_message)}"))
    out.fields(pairs)
    sections = [
        (
            "Variables",
            None
            if e.variables is None
            else json.dumps(e.variables, sort_keys=True, ensure_ascii=False),
        ),
        ("Rendered prompt", e.rendered_prompt),
        ("Response", e.response_text),
    ]
    for title, body in sections:
        if body is not None:
            out.line()
            out.line(f"{title}:")
            out.line(body)
