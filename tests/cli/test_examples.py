"""The command-line examples of README.md ("## Command line") and docs/cli.md ("## Examples"),
run line by line with ONE URL (the gateway's, or the registry's or the executions' URL of a
per-function deploy): ``export`` sets the environment (the URL becomes the
test gateway's), ``promptledger ...`` runs through the CLI, any other line through bash in a
temporary folder. Every command must succeed; the README's sample output must be exact."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from prompt_ledger.cli.docs import EXAMPLES
from tests.cli.conftest import Cli

ROOT = Path(__file__).resolve().parents[2]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def block(path: Path, heading: str, language: str = "bash") -> str:
    """The first fenced block of ``language`` after ``heading``."""
    text = path.read_text(encoding="utf-8")
    after = text[text.index(f"\n{heading}\n") :]
    fence = f"```{language}\n"
    start = after.index(fence) + len(fence)
    return after[start : after.index("```", start)]


def lines(script: str) -> list[str]:
    """The commands of a shell block: continuations joined, comments and blanks dropped."""
    joined = script.replace("\\\n", " ")
    return [line for line in joined.splitlines() if shlex.split(line, comments=True)]


def run_examples(script: str, cli: Cli, workdir: Path) -> dict[str, str]:
    """Run ``script``; the stdout of each ``promptledger`` command, by its line."""
    env = dict(os.environ)
    outputs: dict[str, str] = {}
    execution_id = ""
    for line in lines(script):
        argv = shlex.split(line, comments=True)
        if argv[0] == "export":
            for assignment in argv[1:]:
                name, _, value = assignment.partition("=")
                env[name] = cli.url if name == "PROMPT_LEDGER_URL" else value
                if name == "PROMPT_LEDGER_API_KEY":
                    cli.key = value
        elif argv[0] == "promptledger":
            args = [a.replace("<execution_id>", execution_id) for a in argv[1:]]
            result = cli(*args)
            assert result.exit_code == 0, (line, result.stdout, result.stderr)
            outputs[line] = result.stdout
            if args[0] == "run":
                execution_id = UUID.findall(result.stdout + result.stderr)[0]
        else:
            subprocess.run(["bash", "-c", line], cwd=workdir, env=env, check=True, timeout=30)
    return outputs


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_readme_examples_run(one_url: str, workdir: Path) -> None:
    script = block(ROOT / "README.md", "## Command line")
    outputs = run_examples(script, Cli(one_url), workdir)
    pushes = [out for line, out in outputs.items() if " prompts push " in line]
    assert pushes[0] == block(ROOT / "README.md", "## Command line", "text")
    assert pushes[1].endswith("1 prompt: 0 created, 1 unchanged.\n")
    assert (workdir / "exported" / "welcome.j2").read_text() == (
        "Hello {{name}}! Welcome to {{app}}.\n"
    )


def test_the_docs_examples_run(one_url: str, workdir: Path) -> None:
    script = block(ROOT / "docs" / "cli.md", "## Examples")
    assert script == EXAMPLES  # docs/cli.md is generated: see test_docs
    outputs = run_examples(script, Cli(one_url), workdir)
    pushes = [out for line, out in outputs.items() if " prompts push " in line]
    assert [p.splitlines()[-1] for p in pushes] == [
        "2 prompts: 2 created, 0 unchanged.",
        "2 prompts: 0 created, 2 unchanged.",
        "2 prompts: 1 created, 1 unchanged.",
    ]
    assert sorted(p.name for p in (workdir / "exported").iterdir()) == ["summarize.j2"]
