"""Processes started as a platform starts them: a command, an environment, a working directory,
output captured to a log; stopped by process group (gunicorn has workers).

Commands are resolved through ``PATH`` with this virtualenv's ``bin`` first, as the image puts
``/opt/venv/bin`` first; nothing of the test runner's own configuration leaks in."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from prompt_ledger.functions import FUNCTIONS

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HEALTH_WAIT = 60.0
ONE_SHOT_TIMEOUT = 120.0
# What the processes read; a test sets what it needs and nothing leaks in from the runner.
APP_VARIABLES = {
    "DATABASE_URL", "API_KEY", "PORT", "ENVIRONMENT", "DEBUG", "DEMO_FALLBACK", "REDIS_URL",
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
    "WORKER_METRICS_PORT", "FUNCTION_TARGET", "FUNCTION_SOURCE", "HOST", "PROVIDER_TIMEOUT",
    *(f"{name.upper()}_URL" for name in FUNCTIONS),
}  # fmt: skip
KEY = re.compile(r"pl_[A-Za-z0-9_-]{40,}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def base_environment(**variables: str) -> dict[str, str]:
    """The runner's environment without any PromptLedger variable, the virtualenv first on
    PATH (as the image's /opt/venv/bin), plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PROMPTLEDGER_SCHEMA_DIR"] = str(ROOT / "schema")  # as the image sets it
    return env | variables


@dataclass
class Process:
    """One long-running process of a deployment."""

    name: str
    argv: Sequence[str]
    env: dict[str, str]
    log: Path
    cwd: Path = ROOT
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Process:
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                list(self.argv),
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM the process group, then SIGKILL if it lingers; the exit code. What the
        process leaves behind in its group (a worker its master did not wait for) is killed."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        with contextlib.suppress(OSError):  # (ESRCH: nothing of the group is left)
            os.killpg(self.popen.pid, signal.SIGKILL)
        return self.popen.returncode


def run_once(
    argv: Sequence[str], env: dict[str, str], cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=ONE_SHOT_TIMEOUT,
        check=False,
    )


def run_concurrently(
    commands: Iterable[Sequence[str]], env: Iterable[dict[str, str]], cwd: Path = ROOT
) -> list[tuple[int, str]]:
    """Start every command at once (as a platform runs each service's pre-deploy), wait for
    all; (exit code, output) of each."""
    started = [
        subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for argv, environment in zip(commands, env, strict=True)
    ]
    results = []
    try:
        for process in started:
            out, _ = process.communicate(timeout=ONE_SHOT_TIMEOUT)
            results.append((process.returncode, out))
    finally:
        for process in started:  # one timed out: none is left running
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    return results


def wait_healthy(url: str, processes: Sequence[Process], within: float = HEALTH_WAIT) -> None:
    """Until ``url`` answers 200; fails with every process's output if one dies first."""
    deadline = time.monotonic() + within
    status: int | None = None
    while time.monotonic() < deadline:
        for process in processes:
            if not process.alive():
                raise AssertionError(f"{process.name} exited early:\n{process.output()}")
        try:
            status = httpx.get(url, timeout=2).status_code
        except httpx.TransportError:
            status = None
        if status == 200:
            return
        time.sleep(0.1)
    logs = "\n".join(f"--- {p.name}\n{p.output()}" for p in processes)
    raise AssertionError(f"{url} answered {status} after {within}s:\n{logs}")
