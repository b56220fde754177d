"""The date options of the commands that filter by time: the formats they accept, and a time
given without a zone read as UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer

DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


def date_option(help: str) -> Any:
    """A ``--since``/``--until`` style option taking a date or a date and time."""
    return typer.Option(formats=DATE_FORMATS, help=help)


def utc(moment: datetime | None) -> datetime | None:
    """``moment``, in UTC when it was given without a zone."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
