"""Each catalogue web command, started for real as the platforms start it: a subprocess with
PORT and DATABASE_URL in its environment, run from the application directory. It must answer
200 on its health path, and the image's HEALTHCHECK script must agree (and report unhealthy once
the server is gone). The release, worker and cron commands of every platform file are booted in
tests/deploy/test_first_contact.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from prompt_ledger.deploy import SERVICES, Service
from tests.conftest import DEV_KEY
from tests.deploy.files import INFRA
from tests.processes import Process, base_environment, free_port, wait_healthy

WEB = [s for s in SERVICES if s.kind == "web"]


def probe(env: dict[str, str]) -> int:
    return subprocess.run(
        [sys.executable, str(INFRA / "healthcheck.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).returncode


@pytest.mark.parametrize("service", WEB, ids=[s.name for s in WEB])
def test_web_command_answers_its_health_path(
    service: Service, database_url: str, tmp_path: Path
) -> None:
    assert service.health_path is not None
    port = free_port()
    env = base_environment(
        DATABASE_URL=database_url, API_KEY=DEV_KEY, ENVIRONMENT="test", PORT=str(port)
    )
    process = Process(service.name, service.command, env, tmp_path / "log").start()
    url = f"http://127.0.0.1:{port}{service.health_path}"
    try:
        wait_healthy(url, [process])
        assert httpx.get(url, timeout=2).json()["status"] == "ok"
        assert probe(env) == 0
    finally:
        process.stop()
    assert probe(env) == 1  # with the server gone the image's HEALTHCHECK reports unhealthy
