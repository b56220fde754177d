"""The embedded PostgreSQL's stop is bounded (it ends the test session): a server that does not
stop in time is killed, and the stop says so instead of waiting forever."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

from prompt_ledger.embedded import EmbeddedPostgres


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_server_that_does_not_stop_is_killed_and_the_stop_says_so() -> None:
    # not under pytest's tmp_path: as root, the server runs as its own user and must reach it
    data = Path(tempfile.mkdtemp(prefix="pl-stop-")) / "pgdata"
    server = EmbeddedPostgres(data, delete_on_exit=True)
    postmaster = int((data / "postmaster.pid").read_text().split()[0])
    os.kill(postmaster, signal.SIGSTOP)  # frozen: pg_ctl stop would wait for it a minute
    with pytest.raises(RuntimeError, match=r"did not stop within 2 s; its server .* was killed"):
        server.stop(within=2)
    deadline = time.monotonic() + 10  # SIGKILL takes effect asynchronously
    while running(postmaster) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(postmaster)
    shutil.rmtree(data.parent, ignore_errors=True)
