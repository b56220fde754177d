"""Deploys that work at first contact: model provenance and the stored operator key.

- ``models.source``: ``catalog`` rows follow the curated list that ``promptledger migrate``
  loads; ``user`` rows (created or changed through ``PUT /v1/models/...``) are never touched by
  it. Rows that exist before this revision become ``user``: nothing a user may have set is
  overwritten.
- ``operator_key``: the SHA-256 of the instance operator key that ``promptledger migrate``
  generates in production when ``API_KEY`` is not set.

Revision ID: 0003
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "models",
        sa.Column("source", sa.String(length=8), server_default="user", nullable=False),
    )
    op.create_check_constraint("ck_models_source", "models", "source IN ('catalog', 'user')")
    op.create_table(
        "operator_key",
        sa.Column("singleton", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("singleton"),
        sa.CheckConstraint("singleton", name="ck_operator_key_singleton"),
    )


def downgrade() -> None:
    op.drop_table("operator_key")
    op.drop_constraint("ck_models_source", "models", type_="check")
    op.drop_column("models", "source")
