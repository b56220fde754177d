"""The server's one-shot commands (migrate, seed-models, jobs recover|prune) against a test
database: text for people, JSON with --json; same work either way."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from prompt_ledger.cli import app
from prompt_ledger.services.catalog import CURATED_MODELS
from tests.conftest import DEV_KEY

CURATED = len(CURATED_MODELS)


@pytest.fixture
def run(database_url: str) -> CliRunner:
    return CliRunner(env={"DATABASE_URL": database_url, "API_KEY": DEV_KEY, "COLUMNS": "200"})


@pytest.mark.parametrize(
    ("args", "text", "data"),
    [
        (
            ["migrate"],
            "Database migrated to head.\n"
            f"Models: {CURATED} curated ({CURATED} added, 0 updated); models changed through the "
            "API are kept.\nOperator key: API_KEY.\n",
            {
                "revision": "head",
                "models": {"curated": CURATED, "added": 0, "updated": 0},  # the second run
                "operator_key": {"source": "api_key"},
            },
        ),
        (
            ["migrate", "--no-models"],
            "Database migrated to head.\nOperator key: API_KEY.\n",
            {"revision": "head", "models": None, "operator_key": {"source": "api_key"}},
        ),
        (
            ["jobs", "recover"],
            "recover: 0 stalled jobs retried, 0 orphaned executions re-queued, "
            "0 abandoned sync runs failed, 0 attempts of dead workers recorded as lost\n",
            {
                "stalled_jobs_retried": 0,
                "orphans_requeued": 0,
                "abandoned_sync_runs": 0,
                "attempts_lost": 0,
            },
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
    assert (plain.exit_code, plain.stdout) == (
        0,
        f"{CURATED} curated models: {CURATED} added, 0 updated.\n",
    )
    again = run.invoke(app, ["seed-models", "--json"], catch_exceptions=False)
    assert json.loads(again.stdout) == {"curated": CURATED, "added": 0, "updated": 0}  # idempotent
