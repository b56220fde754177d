"""``promptledger run`` (sync, queued, queued and waited) and ``promptledger executions
list|show``, with their exact output. The demo provider answers, deterministically."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import psycopg

from prompt_ledger.sdk import Execution, PromptLedger
from tests.cli.conftest import Cli

RULE = "─"


NOTICE = "[demo provider: offline, deterministic - set OPENAI_API_KEY for real completions]"
# What the demo provider answers (its digest is the first 12 hex digits of the prompt's SHA-256),
# written out rather than recomputed, so a change of the demo's answers shows here.
DEMO_ANSWERS = {
    "Hello Ada, from QA!": f"{NOTICE}\nmodel=gpt-4o-mini digest=9fb308d1a609\nHello Ada, from QA!",
    "Hello Bob, from Dev!": (
        f"{NOTICE}\nmodel=gpt-4o-mini digest=f43947458429\nHello Bob, from Dev!"
    ),
    "Hello Ada!": f"{NOTICE}\nmodel=gpt-4o-mini digest=bd411d311e85\nHello Ada!",
    "Hello Bob!": f"{NOTICE}\nmodel=gpt-4o-mini digest=42ba8354db26\nHello Bob!",
}


def demo_answer(prompt: str) -> str:
    return DEMO_ANSWERS[prompt]


def when(moment: datetime | None) -> str:
    assert moment is not None
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def summary(e: Execution) -> str:
    return (
        f"execution {e.execution_id}: succeeded, openai/gpt-4o-mini (served by demo), "
        f"{e.prompt_tokens}+{e.response_tokens} tokens, $0.000000\n"
    )


def test_run_prints_the_response_and_a_summary(cli: Cli, ledger: PromptLedger) -> None:
    ledger.create_prompt("greet", "Hello {{name}}, from {{team}}!")

    ran = cli.ok("run", "greet", "--var", "name=Ada", "--var", "team=QA")
    assert ran.stdout == demo_answer("Hello Ada, from QA!") + "\n"
    executions = ledger.list_executions().items
    assert len(executions) == 1
    assert ran.stderr == summary(executions[0])

    as_json = json.loads(
        cli.ok(
            "run",
            "greet",
            "--vars-json",
            '{"name": "Bob", "team": "Ops"}',
            "--var",
            "team=Dev",  # --var wins over --vars-json
            "--model",
            "openai/gpt-4o-mini",
            "--param",
            "temperature=0.2",
            "--param",
            "max_tokens=300",
            "--env",
            "production",
            "--correlation-id",
            "order-42",
            "--json",
        ).stdout
    )
    recorded = ledger.get_execution(as_json["execution_id"])
    shown = json.loads(cli.ok("executions", "show", as_json["execution_id"], "--json").stdout)
    assert as_json == shown == recorded.to_dict()  # the run's answer is the ledger's record
    assert [span["kind"] for span in as_json["spans"]] == ["llm"]
    assert as_json["cost_usd"] == "0.00000000"  # fixed point, never 0E-8
    assert as_json["input_price_per_mtok"] == "0.150000"
    assert recorded.variables == {"name": "Bob", "team": "Dev"}
    assert recorded.params == {"temperature": 0.2, "max_tokens": 300}
    assert (recorded.environment, recorded.correlation_id) == ("production", "order-42")
    assert recorded.response_text == demo_answer("Hello Bob, from Dev!")


def test_run_queued_and_waited(cli: Cli, ledger: PromptLedger) -> None:
    ledger.create_prompt("greet", "Hello {{name}}!")

    queued = cli.ok("run", "greet", "--var", "name=Ada", "--async")
    execution_id = queued.stdout.strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", execution_id)
    assert queued.stderr == f"queued: promptledger executions show {execution_id}\n"
    assert ledger.wait(execution_id, timeout=30).response_text == demo_answer("Hello Ada!")

    waited = cli.ok("run", "greet", "--var", "name=Bob", "--async", "--wait")
    assert waited.stdout == demo_answer("Hello Bob!") + "\n"
    newest = ledger.list_executions(limit=1).items[0]
    assert newest.execution_mode == "async"
    assert waited.stderr == summary(newest)


def test_executions_list_and_show(cli: Cli, ledger: PromptLedger) -> None:
    ledger.create_prompt("greet", "Hello {{name}}!")
    ledger.create_prompt("bye", "Bye {{name}}.")
    first = ledger.execute("greet", {"name": "Ada"}, correlation_id="c-1")
    second = ledger.execute("bye", {"name": "Bob"}, params={"temperature": 0})

    listed = cli.ok("executions", "list")
    assert listed.stdout == (
        "Execution                              Prompt     Status      Model                "
        "Tokens   Cost        Created\n"
        f"{RULE * 123}\n"
        f"{second.execution_id}   bye v1     succeeded   openai/gpt-4o-mini   "
        f"{second.prompt_tokens}+{second.response_tokens}     $0.000000   "
        f"{when(second.created_at)}\n"
        f"{first.execution_id}   greet v1   succeeded   openai/gpt-4o-mini   "
        f"{first.prompt_tokens}+{first.response_tokens}     $0.000000   "
        f"{when(first.created_at)}\n"
    )
    filtered = json.loads(cli.ok("executions", "list", "--prompt", "greet", "--json").stdout)
    assert [e["execution_id"] for e in filtered] == [str(first.execution_id)]
    newest = json.loads(cli.ok("executions", "list", "--limit", "1", "--json").stdout)
    assert [e["execution_id"] for e in newest] == [str(second.execution_id)]
    none = cli.ok("executions", "list", "--status", "failed", "--since", "2020-01-01", "--json")
    assert json.loads(none.stdout) == []

    e = ledger.get_execution(str(first.execution_id))
    shown = cli.ok("executions", "show", str(e.execution_id))
    assert shown.stdout == (
        f"Execution:   {e.execution_id}\n"
        "Status:      succeeded\n"
        "Mode:        sync\n"
        "Prompt:      greet v1 (active)\n"
        "Environment: -\n"
        "Model:       openai/gpt-4o-mini (served by demo)\n"
        "Params:      -\n"
        f"Tokens:      {e.prompt_tokens}+{e.response_tokens}\n"
        f"Latency:     {e.latency_ms} ms (provider {e.provider_latency_ms} ms)\n"
        "Cost:        $0.000000\n"
        "Attempts:    1\n"
        "Correlation: c-1\n"
        f"Trace:       {e.trace_id}\n"
        f"Created:     {when(e.created_at)}\n"
        f"Started:     {when(e.started_at)}\n"
        f"Completed:   {when(e.completed_at)}\n"
        "\n"
        "Variables:\n"
        '{"name": "Ada"}\n'
        "\n"
        "Rendered prompt:\n"
        "Hello Ada!\n"
        "\n"
        "Response:\n"
        f"{demo_answer('Hello Ada!')}\n"
    )
    as_json = json.loads(cli.ok("executions", "show", str(e.execution_id), "--json").stdout)
    assert as_json == e.to_dict()
    assert [span["kind"] for span in as_json["spans"]] == ["llm"]


def test_show_tells_what_became_of_each_provider_call(
    cli: Cli, ledger: PromptLedger, database_url: str
) -> None:
    ledger.create_prompt("greet", "Hello {{name}}!")
    once = ledger.execute("greet", {"name": "Ada"})
    twice = ledger.execute("greet", {"name": "Bob"})
    # As a worker killed mid-call leaves it: a first attempt lost, its cost unknown.
    with psycopg.connect(database_url, autocommit=True) as conn:
        ids = {"id": twice.execution_id}
        conn.execute(
            "UPDATE execution_attempts SET attempt_number = 2 WHERE execution_id = %(id)s", ids
        )
        conn.execute("UPDATE executions SET attempts = 2 WHERE execution_id = %(id)s", ids)
        conn.execute(
            "INSERT INTO execution_attempts (execution_id, attempt_number, outcome, "
            "                                cost_unknown, error_type) "
            "VALUES (%(id)s, 1, 'lost', true, 'worker_lost')",
            ids,
        )

    repeated = json.loads(cli.ok("executions", "list", "--min-attempts", "2", "--json").stdout)
    assert [e["execution_id"] for e in repeated] == [str(twice.execution_id)]
    shown = cli.ok("executions", "show", str(twice.execution_id)).stdout
    assert "Attempts:    2: lost (cost unknown), succeeded\n" in shown
    assert "Attempts:    1\n" in cli.ok("executions", "show", str(once.execution_id)).stdout
    as_json = json.loads(cli.ok("executions", "show", str(twice.execution_id), "--json").stdout)
    assert [(a["outcome"], a["cost_unknown"]) for a in as_json["provider_attempts"]] == [
        ("lost", True),
        ("succeeded", False),
    ]


def test_run_streamed_prints_as_it_comes_then_the_summary(cli: Cli, ledger: PromptLedger) -> None:
    ledger.create_prompt("greet", "Hello {{name}}!")

    streamed = cli.ok("run", "greet", "--var", "name=Ada", "--stream")
    assert streamed.stdout == demo_answer("Hello Ada!") + "\n"
    newest = ledger.list_executions(limit=1).items[0]
    assert newest.time_to_first_token_ms is not None
    assert streamed.stderr == summary(newest)

    as_json = cli.ok("run", "greet", "--var", "name=Bob", "--stream", "--json")
    record = json.loads(as_json.stdout)  # stdout is the record; the text went to stderr
    assert record["response_text"] == demo_answer("Hello Bob!")
    assert as_json.stderr == demo_answer("Hello Bob!") + "\n"
    assert record == ledger.get_execution(record["execution_id"]).to_dict()

    refused = cli("run", "greet", "--stream", "--async")
    assert refused.exit_code == 2
    assert "--stream" in refused.stderr
