"""Traces: the ``spans`` table also holds the spans applications send (``POST /v1/traces``,
OTLP/HTTP), beside the ``llm`` spans that executions write.

- ``span_id`` becomes the span's own id as its sender gave it (OpenTelemetry's 16 hex digits,
  or the seeds' ``"span-1"``), unique within its project's trace: the primary key is
  ``(project_id, trace_id, span_id)``, so a re-sent span is the same row. Execution spans get a
  random 16-hex id (existing ones keep the first 16 hex digits of their UUID).
- ``parent_span_id`` is text as well; an execution span's parent is the caller's
  ``traceparent`` span (until now kept in ``attributes.parent_span_id``, copied here).
- ``service_name``, ``cost_usd`` (fixed point, as executions), ``events`` (JSON array).
- Indexes for the trace list (a project's spans by start time) and for the retention job
  (spans by the time they were received).

Revision ID: 0005
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_SPAN_ID = "substr(replace(gen_random_uuid()::text, '-', ''), 1, 16)"


def upgrade() -> None:
    op.drop_constraint("spans_pkey", "spans", type_="primary")
    op.drop_index("ix_spans_project_trace", table_name="spans")
    op.alter_column("spans", "span_id", server_default=None)
    op.alter_column(
        "spans",
        "span_id",
        type_=sa.String(length=64),
        postgresql_using="substr(replace(span_id::text, '-', ''), 1, 16)",
        server_default=sa.text(NEW_SPAN_ID),
    )
    op.alter_column(
        "spans",
        "parent_span_id",
        type_=sa.String(length=64),
        postgresql_using="parent_span_id::text",
    )
    op.execute(
        "UPDATE spans SET parent_span_id = left(attributes->>'parent_span_id', 64) "
        "WHERE execution_id IS NOT NULL AND parent_span_id IS NULL"
    )
    op.create_primary_key("spans_pkey", "spans", ["project_id", "trace_id", "span_id"])
    op.add_column("spans", sa.Column("service_name", sa.String(length=255), nullable=True))
    op.add_column("spans", sa.Column("cost_usd", sa.Numeric(14, 8), nullable=True))
    op.add_column("spans", sa.Column("events", postgresql.JSONB(), nullable=True))
    op.create_index("ix_spans_project_start", "spans", ["project_id", "start_time"])
    op.create_index("ix_spans_created", "spans", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_spans_created", table_name="spans")
    op.drop_index("ix_spans_project_start", table_name="spans")
    op.drop_column("spans", "events")
    op.drop_column("spans", "cost_usd")
    op.drop_column("spans", "service_name")
    op.drop_constraint("spans_pkey", "spans", type_="primary")
    # Application spans have no UUID of their own: only execution spans survive a downgrade.
    op.execute("DELETE FROM spans WHERE execution_id IS NULL")
    op.alter_column("spans", "span_id", server_default=None)
    op.alter_column(
        "spans",
        "span_id",
        type_=sa.UUID(),
        postgresql_using="gen_random_uuid()",
        server_default=sa.text("gen_random_uuid()"),
    )
    op.alter_column(
        "spans",
        "parent_span_id",
        type_=sa.UUID(),
        postgresql_using="NULL::uuid",
    )
    op.create_primary_key("spans_pkey", "spans", ["span_id"])
    op.create_index("ix_spans_project_trace", "spans", ["project_id", "trace_id"])
