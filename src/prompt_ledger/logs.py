"""Logging of the server processes: one line per record.

A failure of operation (the database went away: psycopg, its pool, procrastinate's connector)
is logged with its reason instead of a traceback, since no code is at fault; a bug keeps its
traceback. With ``DEBUG`` on, everything is logged as it is, at DEBUG level."""

from __future__ import annotations

import copy
import logging

from prompt_ledger.startup import database_failure

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        error = record.exc_info[1] if record.exc_info else None
        failure = database_failure(error) if error is not None else None
        if failure is not None:
            record = copy.copy(record)
            reason = " ".join(str(failure).split()) or type(failure).__name__
            record.msg, record.args = f"{record.getMessage()} ({reason})", None
            record.exc_info, record.exc_text = None, None
        text = super().format(record)
        return text if record.exc_info else " ".join(text.split())


def configure(level: int, *, debug: bool = False) -> None:
    """Root logging to stderr at ``level`` (DEBUG, with tracebacks, when ``debug``). The level
    is the handler's too: libraries that set their own logger's level (psycopg) obey it."""
    level = logging.DEBUG if debug else level
    handler = logging.StreamHandler()
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(FORMAT) if debug else OneLineFormatter(FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
