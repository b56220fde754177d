"""CLI fixtures: the commands run in process (typer's CliRunner) against the shared live
gateway (tests/live_gateway.py). Output goes to a pipe with ``COLUMNS`` unset, so tables are
never wrapped and exact outputs do not depend on the terminal the tests run in."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from typer.testing import CliRunner, Result

from prompt_ledger.cli import app
from prompt_ledger.sdk import PromptLedger
from tests.live_gateway import DEV_KEY, live_url
from tests.topology import one_url

# Shared fixtures made available to the CLI tests: the live gateway, and one URL of either
# topology (the gateway, or one function of a per-function deploy).
__all__ = ["live_url", "one_url"]


@dataclass
class Cli:
    """``promptledger`` against ``url`` with ``key``: ``cli("prompts", "list")``."""

    url: str
    key: str | None = DEV_KEY
    env: dict[str, str | None] = field(default_factory=dict)

    def __call__(self, *args: str, input: str | None = None) -> Result:
        env: dict[str, str | None] = {
            "PROMPT_LEDGER_URL": self.url,
            "PROMPT_LEDGER_API_KEY": self.key,
            "COLUMNS": None,
            **self.env,
        }
        runner = CliRunner()
        return runner.invoke(
            app,
            list(args),
            env=env,
            input=input,
            prog_name="promptledger",
            catch_exceptions=False,
        )

    def ok(self, *args: str) -> Result:
        """Run and require exit code 0 (showing stderr otherwise)."""
        result = self(*args)
        assert result.exit_code == 0, (args, result.exit_code, result.stdout, result.stderr)
        return result


@pytest.fixture
def cli(live_url: str) -> Cli:
    return Cli(live_url)


@pytest.fixture
def ledger(live_url: str) -> Iterator[PromptLedger]:
    """The SDK against the same gateway (no prompt cache), to check what the commands did."""
    with PromptLedger(live_url, DEV_KEY, cache_ttl=0, stale_ttl=0) as client:
        yield client
