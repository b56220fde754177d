"""The server's one-shot commands (migrate, seed-models, jobs recover|prune) against a test
database: text for people, JSON with --json; same work either way."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from prompt_ledger.cli import app
from tests.conftest import DEV_KEY


@pytest.fixture
def run(database_url: str) -> CliRunner:
    return CliRunner(env={"DATABASE_URL": database_url, "API_KEY": DEV_KEY, "COLUMNS": "200"})


@pytest.mark.parametrize(
    ("args", "text", "data"),
    [
        (["migrate"], "Database migrated to head.\n", {"revision": "head"}),
        (
            ["jobs", "recover"],
            "recover: 0 stalled jobs retried, 0 orphaned executions re-queued, "
            "0 abandoned sync runs failed\n",
            {"stalled_jobs_retried": 0, "orphans_requeued": 0, "abandoned_sync_runs": 0},
        ),
        (["jobs", "prune"], "prune: done\n", {"pruned": True}),
    ],
)
def test_one_shot_commands(
    run: CliRunner, args: list[str], text: str, data: dict[str, object]
) -> None:
    plain = run.invoke(app, args, catch_exceptions=False)
    assert (plain.exit_code, plain.stdout) == (0, text)
    as_json = run.invoke(app, [*args, "--json"], catch_exceptions=False)
    assert (as_json.exit_code, json.loads(as_json.stdout)) == (0, data)


def test_seed_models(run: CliRunner) -> None:
    plain = run.invoke(app, ["seed-models"], catch_exceptions=False)
    assert plain.exit_code == 0
    count = int(plain.stdout.split()[0])
    assert plain.stdout == f"{count} models loaded.\n"
    assert count > 0
    again = run.invoke(app, ["seed-models", "--json"], catch_exceptions=False)
    assert json.loads(again.stdout) == {"models": count}  # idempotent
