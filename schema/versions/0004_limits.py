"""Per-key rate limits, counted in PostgreSQL so every process of a deploy shares them.

- ``api_keys.requests_per_minute`` / ``executions_per_minute``: a key's own limits; NULL means
  the instance defaults (``RATE_LIMIT_REQUESTS_PER_MINUTE``, ``RATE_LIMIT_EXECUTIONS_PER_MINUTE``),
  0 means no limit. Existing keys get NULL: the defaults.
- ``rate_limit_counts``: requests and executions of each key in each minute (fixed windows);
  the hourly ``prune`` task deletes past minutes.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for column in ("requests_per_minute", "executions_per_minute"):
        op.add_column("api_keys", sa.Column(column, sa.Integer(), nullable=True))
        op.create_check_constraint(f"ck_api_keys_{column}", "api_keys", f"{column} >= 0")
    op.create_table(
        "rate_limit_counts",
        sa.Column(
            "key_id",
            pg.UUID(as_uuid=True),
            sa.ForeignKey("api_keys.key_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "kind", "window_start"),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_counts")
    for column in ("executions_per_minute", "requests_per_minute"):
        op.drop_constraint(f"ck_api_keys_{column}", "api_keys", type_="check")
        op.drop_column("api_keys", column)
