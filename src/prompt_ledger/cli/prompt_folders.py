"""``promptledger prompts push`` and ``pull``: a folder of template files, one prompt per file,
registered with the registry and written back from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from prompt_ledger.cli import folder
from prompt_ledger.cli.failures import CLIError, as_cli_error, code_for_status
from prompt_ledger.cli.output import JsonFlag, Output, dash
from prompt_ledger.cli.prompts import prompts_app
from prompt_ledger.cli.session import session

if TYPE_CHECKING:
    from prompt_ledger.sdk import Prompt, PromptLedger, PromptLedgerAPIError

PUSH_REASON = "promptledger prompts push"


@dataclass(frozen=True, slots=True)
class Pushed:
    name: str
    file: str
    version: int
    created: bool
    label_from: int | None = None

    def as_json(self, label: str | None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "file": self.file,
            "version": self.version,
            "status": "created" if self.created else "unchanged",
        }
        if label is not None:
            data["label"] = {"name": label, "from": self.label_from, "to": self.version}
        return data


@prompts_app.command("push")
def push(
    ctx: typer.Context,
    *,
    directory: Annotated[
        Path,
        typer.Argument(
            help="Folder of template files.",
            exists=True,
            file_okay=False,
            show_default=False,
        ),
    ],
    label: Annotated[
        str | None, typer.Option(help="Point this label at each pushed version.")
    ] = None,
    owner_team: Annotated[
        str | None, typer.Option("--owner-team", help="Owner team of the prompts (full mode).")
    ] = None,
    created_by: Annotated[
        str | None, typer.Option("--created-by", help="Author recorded on new versions.")
    ] = None,
    message: Annotated[
        str | None,
        typer.Option("--message", "-m", help="Commit message of new versions (full mode)."),
    ] = None,
    tracking: Annotated[
        bool,
        typer.Option(
            "--tracking", help="Register as code-defined prompts (tracking mode) instead."
        ),
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Register a folder of templates, one prompt per file, named after the file.

    .j2, .jinja, .txt and .md files are text templates (their final newline is not part of
    the template); .json files are chat prompts, a list of role/content messages. Versions
    are content-addressed: a file whose content the prompt already has creates nothing, so
    pushing the same folder twice changes nothing.
    """
    if tracking and (owner_team or message):
        raise typer.BadParameter("--owner-team and --message apply to full mode only")
    out = Output(json_output)
    with session(ctx) as ledger:
        files = [folder.read(path) for path in folder.template_paths(directory)]
        if tracking:
            pushed = _register(ledger, files, created_by)
        else:
            pushed = _put(
                out, ledger, files, owner_team=owner_team, created_by=created_by, message=message
            )
        if label is not None:
            pushed = _point(out, ledger, pushed, label, created_by)
    created = sum(p.created for p in pushed)

    def text() -> None:
        headers = ["Prompt", "Version", "Status", "File"]
        rows = [
            [p.name, str(p.version), "created" if p.created else "unchanged", p.file]
            for p in pushed
        ]
        if label is not None:
            headers.append(f"Label {label}")
            rows = [[*row, _moved(p)] for row, p in zip(rows, pushed, strict=True)]
        out.table(headers, rows)
        out.line(f"{_count(pushed)}: {created} created, {len(pushed) - created} unchanged.")

    out.emit([p.as_json(label) for p in pushed], text)


def _put(
    out: Output,
    ledger: PromptLedger,
    files: list[folder.TemplateFile],
    *,
    owner_team: str | None,
    created_by: str | None,
    message: str | None,
) -> list[Pushed]:
    from prompt_ledger.sdk import PromptLedgerAPIError

    pushed: list[Pushed] = []
    with out.progress("Pushing", len(files)) as advance:
        for file in files:
            try:
                saved = ledger.create_prompt(
                    file.name,
                    file.template,
                    owner_team=owner_team,
                    created_by=created_by,
                    commit_message=message,
                )
            except PromptLedgerAPIError as error:
                raise _about(file.path, error) from error
            assert saved.version is not None
            pushed.append(
                Pushed(file.name, file.path.name, saved.version.version_number, saved.created)
            )
            advance()
    return pushed


def _register(
    ledger: PromptLedger, files: list[folder.TemplateFile], created_by: str | None
) -> list[Pushed]:
    results = ledger.register_code_prompts(
        [(f.name, f.template) for f in files], created_by=created_by
    )
    return [
        Pushed(f.name, f.path.name, r.version_number, r.changed)
        for f, r in zip(files, results, strict=True)
    ]


def _point(
    out: Output,
    ledger: PromptLedger,
    pushed: list[Pushed],
    label: str,
    actor: str | None,
) -> list[Pushed]:
    """Point ``label`` at each pushed version, only where it points elsewhere (so a re-run
    records no label move)."""
    done: list[Pushed] = []
    with out.progress(f"Labelling {label}", len(pushed)) as advance:
        for p in pushed:
            current = {lb.label: lb.version_number for lb in ledger.list_labels(p.name)}
            before = current.get(label)
            if before != p.version:
                ledger.set_label(p.name, label, p.version, reason=PUSH_REASON, actor=actor)
            done.append(Pushed(p.name, p.file, p.version, p.created, label_from=before))
            advance()
    return done


def _moved(p: Pushed) -> str:
    if p.label_from == p.version:
        return "unchanged"
    return "set" if p.label_from is None else f"moved from {p.label_from}"


def _about(path: Path, error: PromptLedgerAPIError) -> CLIError:
    """An SDK error while pushing ``path``, its message prefixed with the file name."""
    failure = as_cli_error(error)
    return CLIError(f"{path.name}: {failure.message}", failure.code, failure.details)


@prompts_app.command("pull")
def pull(
    ctx: typer.Context,
    directory: Annotated[
        Path,
        typer.Argument(
            help="Folder to write (created if missing).", file_okay=False, show_default=False
        ),
    ],
    label: Annotated[
        str | None,
        typer.Option(help="Write the versions this label points at (default: the active ones)."),
    ] = None,
    names: Annotated[
        list[str] | None,
        typer.Option("--name", help="Only this prompt (repeatable). Default: every prompt."),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Write prompts back as files, one per prompt (the inverse of push).

    Text templates are written as NAME.j2 and chat prompts as NAME.json; an existing file of
    the prompt (say NAME.md) is updated in place, and a file already up to date is left
    alone. Without --name, prompts with no active version (or without the --label) are
    skipped.
    """
    from prompt_ledger.sdk import Prompt, PromptRef, ResolveFailure

    out = Output(json_output)
    with session(ctx) as ledger:
        wanted = names or [
            p.name
            for p in ledger.paginate(ledger.list_prompts, label=label, limit=200)
            if label is not None or p.active_version_number is not None
        ]
        resolved = ledger.prefetch([PromptRef(n, label=label) for n in wanted]) if wanted else []
    directory.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    failures: list[ResolveFailure] = []
    with out.progress("Pulling", len(resolved)) as advance:
        for item in resolved:
            if isinstance(item, ResolveFailure):
                failures.append(item)
                rows.append({"name": item.name, "version": None, "file": None, "status": "skipped"})
            else:
                assert isinstance(item, Prompt)
                rows.append(_write(directory, item))
            advance()

    def text() -> None:
        out.table(
            ["Prompt", "Version", "Status", "File"],
            [[r["name"], dash(r["version"]), r["status"], dash(r["file"])] for r in rows],
        )
        counts = {s: sum(r["status"] == s for r in rows) for s in ("written", "unchanged")}
        out.line(
            f"{_count(rows)}: {counts['written']} written, {counts['unchanged']} unchanged, "
            f"{len(failures)} skipped."
        )

    out.emit(rows, text)
    for failure in failures:
        out.note(f"skipped {failure.name}: {failure.detail}")
    if names and failures:
        first = failures[0]
        out.fail(CLIError(f"{first.name}: {first.detail}", code_for_status(first.status)))


def _write(directory: Path, prompt: Prompt) -> dict[str, Any]:
    v = prompt.version
    assert v is not None
    template: str | list[dict[str, str]] = (
        v.template_source
        if v.template_source is not None
        else [{"role": m.role, "content": m.content} for m in v.messages or []]
    )
    path = folder.target(directory, prompt.name, v.kind)
    text = folder.content(template)
    unchanged = path.is_file() and path.read_text(encoding="utf-8") == text
    if not unchanged:
        path.write_text(text, encoding="utf-8", newline="\n")
    return {
        "name": prompt.name,
        "version": v.version_number,
        "file": path.name,
        "status": "unchanged" if unchanged else "written",
    }


def _count(items: list[Any]) -> str:
    return f"{len(items)} prompt{'' if len(items) == 1 else 's'}"
