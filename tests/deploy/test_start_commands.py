"""Each catalogue command, started for real as the platforms start it: a subprocess with PORT and
DATABASE_URL in its environment, run from the application directory.

Web services must answer 200 on their health path within a bounded wait (and the image's
HEALTHCHECK script must agree); the migrate command must upgrade an empty database; the worker
must run a queued execution; the crons must exit 0."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from prompt_ledger.container import Container
from prompt_ledger.deploy import MIGRATE, SERVICES, WORKER, Service
from prompt_ledger.gateway import create_gateway
from prompt_ledger.settings import Settings
from tests.conftest import DEV_KEY, create_database, drop_database
from tests.deploy.files import INFRA, ROOT

BIN = Path(sys.executable).parent
HEALTH_WAIT = 60.0
ONE_SHOT_TIMEOUT = 120.0
# Variables the processes read; the tests set the ones they need and nothing leaks in.
APP_VARIABLES = {
    "DATABASE_URL", "API_KEY", "PORT", "ENVIRONMENT", "DEBUG", "DEMO_FALLBACK", "REDIS_URL",
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
    "WORKER_METRICS_PORT", "FUNCTION_TARGET", "FUNCTION_SOURCE", "HOST",
}  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def argv(service: Service) -> list[str]:
    """The catalogue command with its program resolved to this virtualenv's console script."""
    program = BIN / service.command[0]
    assert program.is_file(), f"{service.name}: no console script {program}"
    return [str(program), *service.command[1:]]


def environment(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    return env | {
        "DATABASE_URL": database_url,
        "API_KEY": DEV_KEY,
        "ENVIRONMENT": "test",
        "PROMPTLEDGER_SCHEMA_DIR": str(ROOT / "schema"),  # as the image sets it
        "WORKER_METRICS_PORT": str(free_port()),  # never collide with a real Prometheus
        **extra,
    }


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """SIGTERM the process group (gunicorn has workers), then SIGKILL if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    return process.returncode


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "process.log"


def output(log: Path) -> str:
    return log.read_text(errors="replace")


def start(service: Service, env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            argv(service),
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


WEB = [s for s in SERVICES if s.kind == "web"]


@pytest.mark.parametrize("service", WEB, ids=[s.name for s in WEB])
def test_web_command_answers_its_health_path(
    service: Service, database_url: str, log: Path
) -> None:
    assert service.health_path is not None
    port = free_port()
    env = environment(database_url, PORT=str(port))
    process = start(service, env, ROOT, log)
    url = f"http://127.0.0.1:{port}{service.health_path}"
    try:
        deadline = time.monotonic() + HEALTH_WAIT
        status = None
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"{service.shell} exited early:\n{output(log)}")
            try:
                status = httpx.get(url, timeout=2).status_code
            except httpx.TransportError:
                status = None
            if status == 200:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"{url} answered {status} after {HEALTH_WAIT}s:\n{output(log)}")
        assert httpx.get(url, timeout=2).json()["status"] == "ok"
        probe = subprocess.run(
            [sys.executable, str(INFRA / "healthcheck.py")],
            env=env,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        assert probe.returncode == 0, probe.stderr
    finally:
        stop(process)
    # With the server gone the image's HEALTHCHECK reports unhealthy.
    probe = subprocess.run(
        [sys.executable, str(INFRA / "healthcheck.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert probe.returncode == 1


def run_once(service: Service, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv(service),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=ONE_SHOT_TIMEOUT,
        check=False,
    )


def test_migrate_command_upgrades_an_empty_database_and_is_idempotent(
    server_url: str, tmp_path: Path
) -> None:
    name = f"pl_deploy_{uuid.uuid4().hex[:12]}"
    url = create_database(server_url, name)
    try:
        for _ in range(2):
            result = run_once(MIGRATE, environment(url), tmp_path)
            assert result.returncode == 0, result.stdout + result.stderr
        with psycopg.connect(url) as conn:
            version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            jobs = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        assert version is not None
        assert jobs == ("procrastinate_jobs",)
    finally:
        drop_database(server_url, name)


CRONS = [s for s in SERVICES if s.kind == "cron"]


@pytest.mark.parametrize("service", CRONS, ids=[s.name for s in CRONS])
def test_cron_command_runs_once_and_exits_zero(
    service: Service, database_url: str, tmp_path: Path
) -> None:
    result = run_once(service, environment(database_url), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


async def test_worker_command_runs_a_queued_execution(
    database_url: str, tmp_path: Path, log: Path
) -> None:
    # Submitted through an in-process gateway; run by the worker process. No provider key
    # anywhere: the labelled demo provider answers.
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        api_key=DEV_KEY,
        environment="test",
        demo_fallback=True,
    )
    container = Container(settings)
    await container.open()
    process: subprocess.Popen[bytes] | None = None
    try:
        await container.catalog.seed()
        transport = httpx.ASGITransport(app=create_gateway(container))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers={"X-API-Key": DEV_KEY}
        ) as api:
            created = await api.put(
                "/v1/prompts/doc_summarizer", json={"template_source": "Summarize:\n{{text}}"}
            )
            assert created.status_code == 201, created.text
            submitted = await api.post(
                "/v1/executions:submit",
                json={
                    "prompt_name": "doc_summarizer",
                    "variables": {"text": "Your document text here..."},
                    "model": {"provider": "openai", "model_name": "gpt-4o-mini"},
                },
            )
            assert submitted.status_code == 202, submitted.text
            execution_id = submitted.json()["execution_id"]

            process = start(WORKER, environment(database_url, DEMO_FALLBACK="true"), tmp_path, log)
            deadline = time.monotonic() + HEALTH_WAIT
            body: dict[str, object] = {}
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    pytest.fail(f"{WORKER.shell} exited early:\n{output(log)}")
                body = (await api.get(f"/v1/executions/{execution_id}")).json()
                if body["status"] in ("succeeded", "failed"):
                    break
                await asyncio.sleep(0.2)
            assert body.get("status") == "succeeded", f"{body}\n{output(log)}"
            assert body["served_by"] == "demo"
    finally:
        if process is not None:
            code = await asyncio.to_thread(stop, process)
            assert code == 0, f"worker exit {code} after SIGTERM:\n{output(log)}"
        await container.aclose()
