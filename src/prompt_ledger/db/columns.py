"""The MetaData every table belongs to (``tables.py`` and the modules it gathers), and the
column shapes the tables share."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

metadata = sa.MetaData()

UUID = pg.UUID(as_uuid=True)
TS = sa.DateTime(timezone=True)
NOW = sa.text("now()")
GEN_UUID = sa.text("gen_random_uuid()")


def id_column(name: str) -> sa.Column[object]:
    """A UUID primary key the database generates."""
    return sa.Column(name, UUID, primary_key=True, server_default=GEN_UUID)


def created_column() -> sa.Column[object]:
    return sa.Column("created_at", TS, nullable=False, server_default=NOW)
