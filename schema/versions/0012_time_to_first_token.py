"""Streamed executions: the time to the first token, ``executions.time_to_first_token_ms``.

Set when an execution is run with ``"stream": true`` (from the request's arrival to the first
text the provider streamed); NULL for executions that were not streamed, or that ended before
any text came.

Revision ID: 0012
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("executions", sa.Column("time_to_first_token_ms", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("executions", "time_to_first_token_ms")
