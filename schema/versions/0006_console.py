"""The web console's sign-in sessions, and an index its execution filters need.

A session is a random token in an HttpOnly cookie; only its SHA-256 is stored, with the hash of
the API key it was opened with (so revoking the key ends the session on its next request).

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-26 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.project_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("session_hash"),
    )
    op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"])
    op.create_index("ix_console_sessions_key_hash", "console_sessions", ["key_hash"])
    # The executions list filters by correlation id (the API's and the console's filter):
    # without this index a rare id is found by reading every execution of the project.
    op.create_index(
        "ix_executions_project_correlation",
        "executions",
        ["project_id", "correlation_id", "created_at"],
        postgresql_where=sa.text("correlation_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_executions_project_correlation", table_name="executions")
    op.drop_table("console_sessions")
