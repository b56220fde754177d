"""The per-function topology, for client tests: the registry and the executions function as
separate functions-framework processes on their own ports, each given the other's URL, and a
queue worker; migrated and seeded by ``promptledger migrate``, the release step. A client then
configures ONE of the two URLs and must reach every endpoint.

``one_url`` runs a client test three times: against the gateway, through the registry's URL
and through the executions' URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from prompt_ledger.deploy import FUNCTION_SERVICES, MIGRATE, WORKER
from tests.conftest import DEV_KEY
from tests.processes import (
    Process,
    base_environment,
    free_port,
    run_once,
    wait_healthy,
)

__all__ = ["PerFunction", "one_url"]


class PerFunction:
    """Every function in its own process, plus a worker, against ``database_url``."""

    def __init__(self, database_url: str, logs: Path) -> None:
        self.ports = {s.name: free_port() for s in FUNCTION_SERVICES}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}
        self.env = base_environment(
            DATABASE_URL=database_url,
            API_KEY=DEV_KEY,
            ENVIRONMENT="test",
            DEMO_FALLBACK="true",  # no provider account: the labelled demo provider answers
            WORKER_METRICS_PORT="0",
            **{f"{name.upper()}_URL": url for name, url in self.urls.items()},
        )
        self.processes = [
            Process(s.name, s.command, self.env | {"PORT": str(self.ports[s.name])}, logs / s.name)
            for s in FUNCTION_SERVICES
        ]
        self.processes.append(Process(WORKER.name, WORKER.command, self.env, logs / "worker"))
        self._stack = ExitStack()

    def __enter__(self) -> PerFunction:
        release = run_once(MIGRATE.command, self.env)
        assert release.returncode == 0, release.stdout + release.stderr
        try:
            for process in self.processes:
                self._stack.callback(process.stop)
                process.start()
            for url in self.urls.values():
                wait_healthy(f"{url}/health", self.processes)
        except BaseException:  # `with` calls no __exit__ when __enter__ fails
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()


@pytest.fixture(params=["gateway", "registry", "executions"])
def one_url(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[str]:
    """The one URL a client is given: the gateway's, or one function's of a per-function
    deploy."""
    if request.param == "gateway":
        yield request.getfixturevalue("live_url")
        return
    with PerFunction(database_url, tmp_path) as deployment:
        yield deployment.urls[request.param]
