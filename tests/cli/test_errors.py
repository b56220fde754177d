"""Exit codes and error messages: usage (2), not found (3), conflict (4), invalid input (5),
auth (6), server unreachable (7), execution failed (8); errors on stderr, as JSON with --json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from prompt_ledger.cli.failures import EXIT_CODES, ExitCode, exit_code_for
from prompt_ledger.cli.session import NO_KEY
from prompt_ledger.gateway import create_gateway
from prompt_ledger.sdk import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    PromptLedger,
    PromptLedgerAPIError,
    WaitTimeoutError,
)
from prompt_ledger.sdk.errors import error_from_problem
from prompt_ledger.testing.stub_llm import Reply, StubLLM
from tests.cli.conftest import Cli
from tests.conftest import DEV_KEY
from tests.execution_fixtures import stub_settings
from tests.live_gateway import LiveServer, free_port_url

UNKNOWN = "00000000-0000-0000-0000-00000000beef"


def test_every_exit_code_is_documented() -> None:
    assert list(EXIT_CODES) == list(ExitCode)
    assert [int(code) for code in ExitCode] == list(range(12))


@pytest.mark.parametrize(
    ("status", "problem", "code"),
    [
        (400, "bad-request", ExitCode.VALIDATION),
        (401, "unauthorized", ExitCode.AUTH),
        (403, "forbidden", ExitCode.AUTH),
        (404, "not-found", ExitCode.NOT_FOUND),
        (405, "method-not-allowed", ExitCode.UNEXPECTED),
        (409, "conflict", ExitCode.CONFLICT),
        (422, "validation", ExitCode.VALIDATION),
        (429, "rate-limited", ExitCode.UNAVAILABLE),
        (502, "provider-failed", ExitCode.FAILED),
        (503, "unavailable", ExitCode.UNAVAILABLE),
    ],
)
def test_each_server_answer_has_its_exit_code(status: int, problem: str, code: ExitCode) -> None:
    body = {"type": f"https://promptledger.dev/problems/{problem}", "status": status}
    assert exit_code_for(error_from_problem(status, body)) == code


def test_sdk_failures_without_an_answer_have_their_exit_code() -> None:
    assert exit_code_for(APIConnectionError("refused")) == ExitCode.UNAVAILABLE
    assert exit_code_for(APITimeoutError("slow")) == ExitCode.UNAVAILABLE
    assert exit_code_for(WaitTimeoutError("still running", execution=None)) == 7
    assert exit_code_for(ConfigurationError("no key")) == ExitCode.AUTH
    assert exit_code_for(PromptLedgerAPIError("odd answer")) == ExitCode.UNEXPECTED


def test_not_found_is_3(cli: Cli) -> None:
    missing = cli("prompts", "get", "nope")
    assert (missing.exit_code, missing.stdout) == (3, "")
    assert missing.stderr == "Error: Prompt 'nope' not found.\n"
    assert cli("executions", "show", UNKNOWN).exit_code == 3
    assert cli("keys", "revoke", UNKNOWN).exit_code == 3
    assert cli("prompts", "diff", "nope", "1", "2").exit_code == 3


def test_errors_are_json_on_stderr_with_json(cli: Cli) -> None:
    missing = cli("prompts", "get", "nope", "--json")
    assert (missing.exit_code, missing.stdout) == (3, "")
    error = json.loads(missing.stderr)
    assert error["error"] == "Prompt 'nope' not found."
    assert (error["exit_code"], error["status"]) == (3, 404)
    assert error["problem"]["type"] == "https://promptledger.dev/problems/not-found"


def test_conflict_is_4(cli: Cli) -> None:
    duplicate = cli("projects", "create", "default")
    assert duplicate.exit_code == 4
    assert duplicate.stderr.startswith("Error: ")


def test_invalid_input_is_5(cli: Cli, ledger: PromptLedger, tmp_path: Path) -> None:
    ledger.create_prompt("greet", "Hello {{name}}!")
    missing = cli("run", "greet")
    assert (missing.exit_code, missing.stderr) == (5, "Error: Missing template variables: name\n")
    unknown_model = cli("run", "greet", "--var", "name=Ada", "--model", "acme/nope")
    assert unknown_model.exit_code == 5

    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "bad.j2").write_text("Hello {{ name\n")
    bad = cli("prompts", "push", str(folder))
    assert bad.exit_code == 5
    assert bad.stderr == (
        "Error: bad.j2: Template syntax error in template_source at line 1: unexpected end of "
        "template, expected 'end of print statement'.\n"
        "  body.template_source: unexpected end of template, expected 'end of print statement'.\n"
    )
    (folder / "bad.j2").unlink()
    (folder / "chat.json").write_text('{"role": "user"}')
    unreadable = cli("prompts", "push", str(folder))
    assert unreadable.exit_code == 5
    assert unreadable.stderr == (
        f"Error: {folder / 'chat.json'}: expected a list of "
        '{"role": "...", "content": "..."} chat messages\n'
    )
    (folder / "chat.json").unlink()
    (folder / "notes.rst").write_text("not a template")
    empty = cli("prompts", "push", str(folder))
    assert empty.exit_code == 5
    assert empty.stderr == f"Error: {folder}: no template files (.j2, .jinja, .txt, .md, .json)\n"
    (folder / "a.j2").write_text("A")
    (folder / "a.txt").write_text("A")
    twice = cli("prompts", "push", str(folder))
    assert twice.exit_code == 5
    assert twice.stderr == f"Error: {folder / 'a.txt'}: prompt 'a' is also defined by a.j2\n"


def test_auth_is_6(cli: Cli, ledger: PromptLedger) -> None:
    no_key = Cli(cli.url, key=None)("prompts", "list")
    assert (no_key.exit_code, no_key.stderr) == (6, f"Error: {NO_KEY}\n")
    wrong = Cli(cli.url, key="pl_wrong")("prompts", "list")
    assert wrong.exit_code == 6
    assert wrong.stderr.startswith("Error: ")

    reader = ledger.create_key("00000000-0000-0000-0000-000000000001", "r", scopes=["prompts:read"])
    denied = Cli(cli.url, key=reader.key)("keys", "list")
    assert denied.exit_code == 6
    assert denied.stderr.endswith("\n  required scope: admin\n")


def test_an_unreachable_server_is_7() -> None:
    url = free_port_url()
    down = Cli(url)("prompts", "list")
    assert down.exit_code == 7
    assert down.stderr.startswith(f"Error: GET {url}/v1/prompts failed: ConnectError")
    assert down.stderr.endswith(". Is the server running? Check --url or PROMPT_LEDGER_URL.\n")
    assert down.stderr.count("\n") == 1
    as_json = Cli(url)("run", "greet", "--json")
    assert as_json.exit_code == 7
    assert json.loads(as_json.stderr)["exit_code"] == 7


def test_usage_errors_are_2(cli: Cli) -> None:
    for args in (
        ["nonsense"],
        ["run", "greet", "--wait"],  # --wait needs --async
        ["run", "greet", "--var", "no-equals-sign"],
        ["run", "greet", "--vars-json", "[1]"],
        ["run", "greet", "--model", "gpt-4o"],
        ["prompts", "label", "greet", "production"],  # no version and no --remove
        ["prompts", "push", "/nonexistent/folder"],
        ["executions", "list", "--status", "exploded"],
    ):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert result.stdout == ""


@pytest.fixture
def failing_provider_url(database_url: str) -> Iterator[str]:
    """A gateway whose OpenAI provider answers 401 (a permanent provider failure)."""
    with StubLLM(default=Reply(status=401)) as stub:
        app = create_gateway(settings=stub_settings(database_url, stub), with_worker=True)
        with LiveServer(app) as server:
            seeded = httpx.put(
                f"{server.url}/v1/models/openai/gpt-4o-mini",
                headers={"X-API-Key": DEV_KEY},
                json={"input_price_per_mtok": 0.15, "output_price_per_mtok": 0.6},
            )
            assert seeded.status_code in (200, 201), seeded.text
            yield server.url


def test_a_failed_execution_is_8(failing_provider_url: str) -> None:
    cli = Cli(failing_provider_url)
    with PromptLedger(failing_provider_url, DEV_KEY) as ledger:
        ledger.create_prompt("greet", "Hello {{name}}!")
        failed = cli("run", "greet", "--var", "name=Ada")
        recorded = ledger.list_executions().items[0]
    assert (failed.exit_code, failed.stdout) == (8, "")
    assert recorded.status == "failed"
    assert failed.stderr.startswith("Error: ")
    assert failed.stderr.endswith(f"\n  execution: {recorded.execution_id}\n")

    queued = cli("run", "greet", "--var", "name=Bob", "--async", "--wait", "--json")
    assert queued.exit_code == 8
    execution = json.loads(queued.stdout)  # the failed execution, for scripts
    assert (execution["status"], execution["error_type"]) == ("failed", "http_401")
    error = json.loads(queued.stderr)
    assert error["error"].startswith(f"execution {execution['execution_id']} failed: http_401: ")
    text = cli("run", "greet", "--var", "name=Eve", "--async", "--wait")
    assert (text.exit_code, text.stdout) == (8, "")
    assert text.stderr.endswith(" failed: http_401: OpenAI answered 401: stub error 401\n")
