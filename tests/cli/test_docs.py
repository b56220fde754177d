"""The CLI's reference (docs/cli.md) is generated from the CLI and must be current; every
command and parameter has help; the client commands need nothing of the server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import typer.main

from prompt_ledger.cli import app
from prompt_ledger.cli.docs import REGENERATE, commands, render
from tests.sdk.test_parity import SERVER_MODULES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "cli.md"


def test_the_cli_reference_is_current() -> None:
    if not DOCS.is_file() or DOCS.read_text(encoding="utf-8") != render():
        pytest.fail(f"docs/cli.md is stale: run `{REGENERATE}` (from the repository root)")


def test_the_reference_does_not_depend_on_the_terminal() -> None:
    env = os.environ | {"COLUMNS": "40", "TERMINAL_WIDTH": "50", "FORCE_COLOR": "1"}
    env.pop("NO_COLOR", None)
    done = subprocess.run(
        [sys.executable, "-m", "prompt_ledger.cli.docs"],
        capture_output=True,
        check=True,
        env=env,
        timeout=60,
    )
    assert done.stdout.decode("utf-8") == render()


def test_every_command_and_parameter_has_help() -> None:
    root = typer.main.get_group(app)
    found = list(commands(root, typer.Context(root, info_name="promptledger")))
    assert len(found) > 25
    for path, command, _ in found:
        assert command.help, path
        for param in command.params:
            assert getattr(param, "help", None), (path, param.name)


CLIENT_COMMANDS = [
    ["--help"],
    ["prompts", "push", "--help"],
    ["run", "--help"],
    ["executions", "list", "--help"],
    ["keys", "create", "--help"],
    ["projects", "list", "--help"],
]


def test_the_client_commands_import_nothing_of_the_server() -> None:
    """What the base install (no ``server`` extra) runs: help is cheap (not even the SDK is
    loaded), and a client command loads the SDK but nothing of the server."""
    code = f"""
import sys
from typer.testing import CliRunner
from prompt_ledger.cli import app

runner = CliRunner()
for args in {CLIENT_COMMANDS!r}:
    assert runner.invoke(app, args).exit_code == 0, args
print("sdk" if "prompt_ledger.sdk" in sys.modules else "no sdk")
env = {{"PROMPT_LEDGER_URL": "http://127.0.0.1:9", "PROMPT_LEDGER_API_KEY": "k"}}
result = runner.invoke(app, ["prompts", "list"], env=env)
assert result.exit_code == 7, result.output
assert "prompt_ledger.sdk" in sys.modules
print(sorted(m for m in sys.modules if m.startswith({SERVER_MODULES!r})))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.splitlines() == ["no sdk", "[]"]
