"""``promptledger prompts``: list, inspect, diff and label prompts (``push`` and ``pull``, a
folder of template files, are in ``prompt_folders``)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from prompt_ledger.cli.app import CLIENT_PANEL, app
from prompt_ledger.cli.output import JsonFlag, Output, dash, when
from prompt_ledger.cli.session import session, take

if TYPE_CHECKING:
    from prompt_ledger.sdk import Prompt

prompts_app = typer.Typer(
    help="Prompts: list, show, versions, diff, labels; push or pull a folder of templates.",
    no_args_is_help=True,
)
app.add_typer(prompts_app, name="prompts", rich_help_panel=CLIENT_PANEL)

NameArg = Annotated[str, typer.Argument(help="Prompt name.", show_default=False)]


class Mode(StrEnum):
    full = "full"
    tracking = "tracking"


@prompts_app.command("list")
def list_prompts(
    ctx: typer.Context,
    *,
    owner_team: Annotated[
        str | None, typer.Option("--owner-team", help="Only this owner team's prompts.")
    ] = None,
    label: Annotated[str | None, typer.Option(help="Only prompts carrying this label.")] = None,
    mode: Annotated[Mode | None, typer.Option(help="Only prompts of this mode.")] = None,
    search: Annotated[str | None, typer.Option(help="Only names containing this text.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many prompts.")] = 100,
    json_output: JsonFlag = False,
) -> None:
    """List prompts in name order, with their active version and labels."""
    out = Output(json_output)
    with session(ctx) as ledger:
        prompts = take(
            ledger.list_prompts,
            limit,
            owner_team=owner_team,
            label=label,
            mode=None if mode is None else mode.value,
            search=search,
        )
    out.records(
        prompts,
        ["Name", "Mode", "Active", "Labels", "Owner team", "Description"],
        lambda p: [
            p.name,
            p.mode,
            dash(p.active_version_number),
            _labels(p.labels),
            dash(p.owner_team),
            dash(p.description),
        ],
    )


@prompts_app.command("get")
def get(
    ctx: typer.Context,
    name: NameArg,
    label: Annotated[str | None, typer.Option(help="Resolve this label.")] = None,
    version: Annotated[int | None, typer.Option(min=1, help="Resolve this version.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Show a prompt and its active version (or --label / --version): details, then the
    template."""
    out = Output(json_output)
    with session(ctx) as ledger:
        prompt = ledger.get_prompt(name, label=label, version=version)
    out.emit(prompt.to_dict(), lambda: _show_prompt(out, prompt))


def _show_prompt(out: Output, prompt: Prompt) -> None:
    v = prompt.version
    assert v is not None  # the server answers 404/409 when nothing resolves
    pairs = [
        ("Name", prompt.name),
        ("Version", f"{v.version_number} ({prompt.resolved_by})"),
        ("Status", v.status),
        ("Kind", v.kind),
        ("Mode", prompt.mode),
        ("Owner team", dash(prompt.owner_team)),
        ("Description", dash(prompt.description)),
        ("Labels", _labels(prompt.labels)),
        ("Variables", ", ".join(v.variables) or "-"),
    ]
    if v.model_defaults:
        pairs.append(("Model defaults", json.dumps(v.model_defaults, sort_keys=True)))
    pairs += [
        ("Checksum", v.checksum_hash),
        ("Created", f"{when(v.created_at)} by {dash(v.created_by)}"),
    ]
    if v.commit_message:
        pairs.append(("Message", v.commit_message))
    out.fields(pairs)
    out.line()
    if v.template_source is not None:
        out.line(v.template_source)
    else:
        out.line("\n\n".join(f"[{m.role}]\n{m.content}" for m in v.messages or []))


@prompts_app.command("versions")
def versions(
    ctx: typer.Context,
    name: NameArg,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many versions.")] = 50,
    json_output: JsonFlag = False,
) -> None:
    """List a prompt's versions, newest first, with the labels pointing at each."""
    out = Output(json_output)
    with session(ctx) as ledger:
        found = take(ledger.list_versions, limit, name)
        labels = ledger.list_labels(name)
    by_version: dict[int, list[str]] = {}
    for label in labels:
        by_version.setdefault(label.version_number, []).append(label.label)
    out.records(
        found,
        ["Version", "Status", "Kind", "Labels", "Created", "Created by", "Message"],
        lambda v: [
            str(v.version_number),
            v.status,
            v.kind,
            ", ".join(sorted(by_version.get(v.version_number, []))) or "-",
            when(v.created_at),
            dash(v.created_by),
            dash(v.commit_message),
        ],
    )


@prompts_app.command("diff")
def diff(
    ctx: typer.Context,
    name: NameArg,
    from_version: Annotated[int, typer.Argument(help="Old version.", show_default=False)],
    to_version: Annotated[int, typer.Argument(help="New version.", show_default=False)],
    json_output: JsonFlag = False,
) -> None:
    """Unified diff of two versions: the template, then (when they differ) the model
    defaults."""
    out = Output(json_output)
    with session(ctx) as ledger:
        result = ledger.diff(name, from_version, to_version)

    def text() -> None:
        if result.identical:
            out.line(f"Versions {from_version} and {to_version} of {name} are identical.")
            return
        for line in result.template_diff.splitlines():
            out.line(_colour_diff(line))
        if result.model_defaults_diff:
            if result.template_diff:
                out.line()
            out.line("Model defaults:")
            for line in result.model_defaults_diff.splitlines():
                out.line(_colour_diff(line))

    out.emit(result.to_dict(), text)


def _colour_diff(line: str) -> str:
    if line.startswith(("+++", "---")):
        return typer.style(line, bold=True)
    if line.startswith("+"):
        return typer.style(line, fg="green")
    if line.startswith("-"):
        return typer.style(line, fg="red")
    if line.startswith("@@"):
        return typer.style(line, fg="cyan")
    return line


@prompts_app.command("label")
def label(
    ctx: typer.Context,
    *,
    name: NameArg,
    label: Annotated[str, typer.Argument(help="Label, e.g. production.", show_default=False)],
    version: Annotated[
        int | None,
        typer.Argument(help="Version to point the label at.", show_default=False),
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the label instead.")] = False,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the label history).")] = None,
    actor: Annotated[str | None, typer.Option(help="Who (kept in the label history).")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Point LABEL of a prompt at VERSION, or --remove it. Every move is recorded in the
    label history; pointing a label where it already points changes nothing."""
    if (version is None) != remove:
        raise typer.BadParameter("give VERSION, or --remove (not both)", param_hint="VERSION")
    out = Output(json_output)
    with session(ctx) as ledger:
        if remove:
            ledger.remove_label(name, label, reason=reason)
            out.emit(
                {"name": name, "label": label, "removed": True},
                lambda: out.line(f"{name}: label {label} removed."),
            )
            return
        assert version is not None
        labels = ledger.set_label(name, label, version, reason=reason, actor=actor)
    out.emit(
        [lb.to_dict() for lb in labels],
        lambda: out.line(f"{name}: {label} -> version {version}."),
    )


def _labels(labels: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "-"
