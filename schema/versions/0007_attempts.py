"""Every provider call in the ledger: ``execution_attempts``, one row per attempt.

A row is written before the provider is called (outcome ``calling``) and finished after it
(``succeeded`` or ``failed``, with tokens and cost). An attempt whose process died mid-call is
marked ``lost`` by the recovery (or by the next claim of its execution), with ``cost_unknown``:
the call may have been made and billed. Executions written before this revision have no rows.

Revision ID: 0007
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "execution_attempts",
        sa.Column("execution_id", sa.UUID(), nullable=False),
        sa.Column("attempt_number", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), server_default="calling", nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("response_tokens", sa.Integer(), nullable=True),
        sa.Column("provider_latency_ms", sa.Integer(), nullable=True),
        sa.Column("cost_usd", sa.Numeric(precision=14, scale=8), nullable=True),
        sa.Column("cost_unknown", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=True),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("error_type", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('calling', 'succeeded', 'failed', 'lost')",
            name="ck_execution_attempts_outcome",
        ),
        sa.ForeignKeyConstraint(["execution_id"], ["executions.execution_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("execution_id", "attempt_number"),
    )
    op.create_index(
        "ix_execution_attempts_calling",
        "execution_attempts",
        ["started_at"],
        postgresql_where=sa.text("outcome = 'calling'"),
    )


def downgrade() -> None:
    op.drop_index("ix_execution_attempts_calling", table_name="execution_attempts")
    op.drop_table("execution_attempts")
