"""Processes as a platform runs them, for ``bench/chaos.py``: each command in its own process
group (so its children die with it) with its output in a log, and a supervisor that restarts
the worker whenever it exits, counting the restarts."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from bench._common import BenchError


class Group:
    """A command in its own process group (so its children die with it), output to a log."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.process: subprocess.Popen[bytes] | None = None
        self.pgids: set[int] = set()

    def start(self) -> Group:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pgids.add(self.process.pid)
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to the group, SIGKILL after ``grace``; then reap."""
        if self.process is None:
            return
        self.kill(signal.SIGTERM)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            self.process.wait(10)
        self.kill(signal.SIGKILL)  # children the leader left behind

    def leftovers(self) -> list[int]:
        """Process groups this command ever had that still have a member."""
        left = []
        for pgid in self.pgids:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                continue
            except PermissionError:
                pass
            left.append(pgid)
        return left


class Supervisor:
    """Restarts the worker whenever it exits, as a platform's restart policy does."""

    def __init__(self, worker: Group, delay: float = 0.5) -> None:
        self.worker = worker
        self.delay = delay
        self.restarts = 0
        self.exits: Counter[int] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def start(self) -> Supervisor:
        self.worker.start()
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            process = self.worker.process
            if process is not None and process.poll() is not None:
                self.exits[process.returncode] += 1
                self.worker.kill()  # whatever its group left behind
                if self._stop.wait(self.delay):
                    return
                self.worker.start()
                self.restarts += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.worker.stop()


def wait_for_file(path: Path, process: Group, within: float = 30) -> str:
    deadline = time.monotonic() + within
    while not path.exists():
        if not process.alive():
            raise BenchError(f"{process.name} exited: see {process.log}")
        if time.monotonic() > deadline:
            raise BenchError(f"{process.name} did not start: see {process.log}")
        time.sleep(0.05)
    return path.read_text().strip()


def wait_for_http(url: str, process: Group, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while True:
        if not process.alive():
            raise BenchError(f"{process.name} exited: see {process.log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2, trust_env=False).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise BenchError(f"{process.name} did not answer {url}: see {process.log}")
        time.sleep(0.1)
