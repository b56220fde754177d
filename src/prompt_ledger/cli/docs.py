"""The CLI reference, docs/cli.md, generated from the CLI itself:

    python -m prompt_ledger.cli.docs > docs/cli.md

Every command's ``--help`` as the terminal shows it, at a fixed width and without colour, so
the output is the same on every machine; tests/cli/test_docs.py fails when docs/cli.md is
stale."""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator

import typer
import typer.main
import typer.rich_utils
from typer.core import TyperCommand, TyperGroup

from prompt_ledger.cli import app
from prompt_ledger.cli.failures import EXIT_CODES

WIDTH = 100
REGENERATE = "python -m prompt_ledger.cli.docs > docs/cli.md"

EXAMPLES = """\
export PROMPT_LEDGER_URL=http://127.0.0.1:8080 PROMPT_LEDGER_API_KEY=dev-key-change-in-production

# A folder of templates, one prompt per file (the file name is the prompt's name)
mkdir -p prompts
printf 'Summarize for {{audience}}:\\n{{text}}\\n' > prompts/summarize.j2
printf '[{"role": "user", "content": "In {{language}}: {{question}}"}]\\n' > prompts/answer.json

promptledger prompts push prompts --owner-team docs --label staging   # creates version 1 of each
promptledger prompts push prompts                  # nothing changed: nothing is created
promptledger prompts list
promptledger prompts get summarize --label staging

# Execute: the response text on stdout, a summary on stderr; --json for the whole record
promptledger run summarize --var audience=engineers --var text='The build is green.'
promptledger run answer --vars-json '{"language": "French", "question": "Why?"}' \\
  --model openai/gpt-4o-mini --param temperature=0.2 --param max_tokens=200 --json
promptledger run summarize --env staging --var audience=execs --var text=Q3 --async --wait
promptledger run summarize --var audience=engineers --var text=Q4 --stream  # as it comes

# The ledger
promptledger executions list --prompt summarize --status succeeded --limit 5
promptledger executions show <execution_id>

# A new version, compared, promoted, and written back as files
printf 'Summarize briefly for {{audience}}:\\n{{text}}\\n' > prompts/summarize.j2
promptledger prompts push prompts -m "shorter summaries"
promptledger prompts versions summarize
promptledger prompts diff summarize 1 2
promptledger prompts label summarize production 2 --reason "reviewed" --actor martin
promptledger prompts pull exported --label production

# Projects (the operator key) and API keys (an admin key of the project, or the operator key)
promptledger projects create checkout
promptledger projects list
promptledger keys create --name ci --scope prompts:read --scope prompts:write
promptledger keys list
"""
"""The walkthrough of docs/cli.md; tests/cli/test_examples.py runs it (``<execution_id>`` is
the id the last ``run`` printed)."""


@contextlib.contextmanager
def _plain_help() -> Iterator[io.StringIO]:
    """Typer's rich help, captured at ``WIDTH`` columns without colour."""
    saved = (
        typer.rich_utils.MAX_WIDTH,
        typer.rich_utils.COLOR_SYSTEM,
        typer.rich_utils.FORCE_TERMINAL,
    )
    typer.rich_utils.MAX_WIDTH = WIDTH
    typer.rich_utils.COLOR_SYSTEM = None
    typer.rich_utils.FORCE_TERMINAL = False
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield buffer
    finally:
        (
            typer.rich_utils.MAX_WIDTH,
            typer.rich_utils.COLOR_SYSTEM,
            typer.rich_utils.FORCE_TERMINAL,
        ) = saved


Command = TyperCommand | TyperGroup


def help_text(command: Command, ctx: typer.Context) -> str:
    with _plain_help() as buffer:
        text = command.get_help(ctx)
    printed = buffer.getvalue() + text
    lines = [line.rstrip() for line in printed.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines).rstrip() + "\n"


def commands(command: Command, ctx: typer.Context) -> Iterator[tuple[str, Command, typer.Context]]:
    """Every visible command, depth first, in the order ``--help`` lists them (by panel)."""
    yield ctx.command_path, command, ctx
    if not isinstance(command, TyperGroup):
        return
    subs: list[tuple[str, Command]] = []
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        if isinstance(sub, TyperCommand | TyperGroup) and not sub.hidden:
            subs.append((name, sub))
    panels = list(dict.fromkeys(sub.rich_help_panel for _, sub in subs))
    for name, sub in sorted(subs, key=lambda pair: panels.index(pair[1].rich_help_panel)):
        yield from commands(sub, typer.Context(sub, info_name=name, parent=ctx))


def render() -> str:
    root = typer.main.get_group(app)
    ctx = typer.Context(
        root, info_name="promptledger", terminal_width=WIDTH, max_content_width=WIDTH
    )
    found = list(commands(root, ctx))
    out = [
        "# Command line reference",
        "",
        "<!-- Generated from the CLI by `" + REGENERATE + "`; do not edit.",
        "     tests/cli/test_docs.py fails when this file is stale. -->",
        "",
        "`promptledger` runs the server (`dev`, `serve`, `function`, `worker`, `migrate`,",
        "`seed-models`, `jobs`; these need the `server` extra) and talks to one (`prompts`, `run`,",
        "`executions`, `keys`, `projects`; the base install is enough). Client commands read",
        "`--url` / `PROMPT_LEDGER_URL` (default `http://127.0.0.1:8080`) and `--api-key` /",
        "`PROMPT_LEDGER_API_KEY`; they print tables for people and JSON with `--json`. Every",
        "command reports an error as one line on stderr (the traceback only with `--debug` or",
        "`DEBUG=true`), and its exit code says what went wrong.",
        "",
        "## Exit codes",
        "",
        "| code | meaning |",
        "|---|---|",
        *(f"| {int(code)} | {meaning} |" for code, meaning in EXIT_CODES.items()),
        "",
        "## Examples",
        "",
        "Run by `tests/cli/test_examples.py` against a live server on every `make test`.",
        "",
        "```bash",
        EXAMPLES.rstrip("\n"),
        "```",
        "",
        "## Commands",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    for path, command, _ in found[1:]:
        summary = (command.get_short_help_str(limit=200) or "").replace("|", "\\|")
        out.append(f"| [`{path}`](#{_anchor(path)}) | {summary} |")
    for path, command, ctx in found:
        out += ["", f"### {path}", "", "```text", help_text(command, ctx).rstrip("\n"), "```"]
    return "\n".join(out) + "\n"


def _anchor(path: str) -> str:
    return path.lower().replace(" ", "-")


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
