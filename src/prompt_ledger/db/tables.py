"""The schema the code expects, declared once: the ledger's tables (executions, their inputs,
provider attempts and spans) and the analytics rollups here, the rest in ``access_tables`` and
``registry_tables``; ``metadata`` (``columns``) holds them all.

Not an ORM: nothing here runs at request time. The alembic migrations in ``schema/`` build this
schema, and ``tests/integration/test_migrations.py`` fails when the migrated database and this
declaration drift apart. Queries live in ``queries.sql``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from prompt_ledger.db import access_tables, registry_tables
from prompt_ledger.db.columns import NOW, TS, UUID, created_column, id_column, metadata

__all__ = ["access_tables", "metadata", "registry_tables"]


executions = sa.Table(
    "executions",
    metadata,
    id_column("execution_id"),
    sa.Column(
        "project_id", UUID, sa.ForeignKey("projects.project_id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("prompt_id", UUID, sa.ForeignKey("prompts.prompt_id"), nullable=False),
    sa.Column("version_id", UUID, sa.ForeignKey("prompt_versions.version_id"), nullable=False),
    sa.Column("model_id", UUID, sa.ForeignKey("models.model_id"), nullable=False),
    sa.Column("execution_mode", sa.String(8), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("environment", sa.String(64)),
    sa.Column("resolved_by", sa.String(80)),
    sa.Column("served_by", sa.String(32)),
    sa.Column("rendered_prompt", sa.Text()),
    sa.Column("response_text", sa.Text()),
    sa.Column("prompt_tokens", sa.Integer()),
    sa.Column("response_tokens", sa.Integer()),
    sa.Column("latency_ms", sa.Integer()),
    sa.Column("provider_latency_ms", sa.Integer()),
    sa.Column("time_to_first_token_ms", sa.Integer()),
    sa.Column("input_price_per_mtok", sa.Numeric(12, 6)),
    sa.Column("output_price_per_mtok", sa.Numeric(12, 6)),
    sa.Column("cost_usd", sa.Numeric(14, 8)),
    sa.Column("error_type", sa.String(64)),
    sa.Column("error_message", sa.Text()),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("correlation_id", sa.String(100)),
    sa.Column("idempotency_key", sa.String(255)),
    sa.Column("request_hash", sa.String(64)),
    sa.Column("trace_id", sa.String(32)),
    sa.Column("job_id", sa.BigInteger()),
    created_column(),
    sa.Column("started_at", TS),
    sa.Column("completed_at", TS),
    sa.UniqueConstraint("project_id", "idempotency_key", name="uq_executions_idempotency"),
    sa.CheckConstraint("execution_mode IN ('sync', 'async')", name="ck_executions_mode"),
    sa.CheckConstraint(
        "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')",
        name="ck_executions_status",
    ),
    sa.Index("ix_executions_prompt_id", "prompt_id"),
    sa.Index("ix_executions_status", "status"),
    sa.Index("ix_executions_project_created", "project_id", "created_at"),
)

execution_inputs = sa.Table(
    "execution_inputs",
    metadata,
    id_column("input_id"),
    sa.Column(
        "execution_id",
        UUID,
        sa.ForeignKey("executions.execution_id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    sa.Column("variables_json", pg.JSONB(), nullable=False),
    sa.Column("model_config_json", pg.JSONB(), nullable=False),
    sa.Column("params_json", pg.JSONB(), nullable=False),
)

# One row per provider call an execution made (or was about to make): written before the call,
# finished after it. A row still 'calling' whose process died becomes 'lost' (its cost unknown).
execution_attempts = sa.Table(
    "execution_attempts",
    metadata,
    sa.Column(
        "execution_id",
        UUID,
        sa.ForeignKey("executions.execution_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("attempt_number", sa.Integer(), primary_key=True),
    sa.Column("outcome", sa.String(16), nullable=False, server_default="calling"),
    sa.Column("started_at", TS, nullable=False, server_default=NOW),
    sa.Column("finished_at", TS),
    sa.Column("prompt_tokens", sa.Integer()),
    sa.Column("response_tokens", sa.Integer()),
    sa.Column("provider_latency_ms", sa.Integer()),
    sa.Column("cost_usd", sa.Numeric(14, 8)),
    sa.Column("cost_unknown", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("worker", sa.String(100)),
    sa.Column("job_id", sa.BigInteger()),
    sa.Column("error_type", sa.String(64)),
    sa.Column("error_message", sa.Text()),
    sa.CheckConstraint(
        "outcome IN ('calling', 'succeeded', 'failed', 'lost')",
        name="ck_execution_attempts_outcome",
    ),
    sa.Index(
        "ix_execution_attempts_calling",
        "started_at",
        postgresql_where=sa.text("outcome = 'calling'"),
    ),
)

spans = sa.Table(
    "spans",
    metadata,
    sa.Column(
        "project_id", UUID, sa.ForeignKey("projects.project_id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("trace_id", sa.String(100), nullable=False),
    # The span's own id as its sender gave it (OpenTelemetry's 16 hex digits, or "span-1");
    # an execution's span gets a random one. Unique within its project's trace (0005).
    sa.Column(
        "span_id",
        sa.String(64),
        nullable=False,
        server_default=sa.text("substr(replace(gen_random_uuid()::text, '-', ''), 1, 16)"),
    ),
    sa.Column("parent_span_id", sa.String(64)),
    sa.Column("execution_id", UUID, sa.ForeignKey("executions.execution_id", ondelete="CASCADE")),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("start_time", TS, nullable=False),
    sa.Column("end_time", TS),
    sa.Column("duration_ms", sa.Integer()),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("error_message", sa.Text()),
    sa.Column("input_data", pg.JSONB()),
    sa.Column("output_data", pg.JSONB()),
    sa.Column("model", sa.String(100)),
    sa.Column("prompt_tokens", sa.Integer()),
    sa.Column("completion_tokens", sa.Integer()),
    sa.Column("attributes", pg.JSONB()),
    created_column(),
    sa.Column("service_name", sa.String(255)),
    sa.Column("cost_usd", sa.Numeric(14, 8)),
    sa.Column("events", pg.JSONB()),
    sa.PrimaryKeyConstraint("project_id", "trace_id", "span_id", name="spans_pkey"),
    sa.Index("ix_spans_execution_id", "execution_id"),
    sa.Index("ix_spans_project_start", "project_id", "start_time"),
    # a service's spans by start (0009): the trace list filtered by service
    sa.Index(
        "ix_spans_service",
        "project_id",
        "service_name",
        "start_time",
        postgresql_where=sa.text("service_name IS NOT NULL"),
    ),
    sa.Index("ix_spans_created", "created_at"),
)

# The executions list's correlation-id filter (a rare id must not scan a project's executions).
sa.Index(
    "ix_executions_project_correlation",
    executions.c.project_id,
    executions.c.correlation_id,
    executions.c.created_at,
    postgresql_where=executions.c.correlation_id.isnot(None),
)

# --- analytics (0008): pending finished executions, and their rollups ---------------------------

analytics_pending = sa.Table(
    "analytics_pending",
    metadata,
    # Filled by the trigger ``analytics_enqueue`` (schema/versions/0008_analytics.py) on the
    # finishing write of each execution; emptied by ``fold_rollups``. No key and no index
    # (schema/versions/0016): each finishing write appends a heap row and nothing more; an id
    # may appear twice (an execution finished again before a fold), and the fold reads it once.
    # The table stays small (readers and the worker's task fold it), so scans of it are cheap.
    sa.Column("execution_id", UUID, nullable=False),
    sa.Column("project_id", UUID, nullable=False),
)

execution_rollups = sa.Table(
    "execution_rollups",
    metadata,
    # One row per level, grain and bucket; a dimension the level collapses holds the nil UUID or
    # '' (label: '' also stands for "no label" at the label level).
    sa.Column(
        "project_id",
        UUID,
        sa.ForeignKey("projects.project_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("level", sa.String(12), primary_key=True),
    sa.Column("grain", sa.String(4), primary_key=True),
    sa.Column("bucket_start", TS, primary_key=True),
    sa.Column("prompt_id", UUID, primary_key=True),
    sa.Column("version_id", UUID, primary_key=True),
    sa.Column("label", sa.String(64), primary_key=True),
    sa.Column("model_id", UUID, primary_key=True),
    sa.Column("executions", sa.BigInteger(), nullable=False),
    sa.Column("succeeded", sa.BigInteger(), nullable=False),
    sa.Column("failed", sa.BigInteger(), nullable=False),
    sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
    sa.Column("response_tokens", sa.BigInteger(), nullable=False),
    sa.Column("cost_usd", sa.Numeric(20, 8), nullable=False),
    sa.Column("latency_count", sa.BigInteger(), nullable=False),
    sa.Column("latency_ms_sum", sa.BigInteger(), nullable=False),
    # the latency histogram, sparse: slots holding latencies (ascending) and their counts
    sa.Column("latency_slots", pg.ARRAY(sa.Integer()), nullable=False),
    sa.Column("latency_counts", pg.ARRAY(sa.Integer()), nullable=False),
    # the same histogram packed: sum of count * 10 ** (12 * slot), so rows add up by + (0015)
    sa.Column("latency_packed", sa.Numeric(), server_default="0", nullable=False),
    # grains: buckets of 1 h, 4 h, 1 d, 4 d, 16 d aligned on the Unix epoch (0009)
    sa.CheckConstraint(
        "grain IN ('hour', '4h', 'day', '4d', '16d')", name="ck_execution_rollups_grain"
    ),
    sa.CheckConstraint(
        "level IN ('project', 'model', 'prompt', 'version', 'label', 'prompt_model')",
        name="ck_execution_rollups_level",
    ),
    sa.Index(
        "ix_execution_rollups_prompt", "project_id", "prompt_id", "level", "grain", "bucket_start"
    ),
    # the summary's ranking of every prompt: counters without the wide rows (0009)
    sa.Index(
        "ix_execution_rollups_counters",
        "project_id",
        "level",
        "grain",
        "bucket_start",
        postgresql_include=["prompt_id", "executions", "cost_usd"],
    ),
    # the ranking's lists: a bucket's prompt rows by executions and by cost (0013)
    sa.Index(
        "ix_execution_rollups_prompt_executions",
        "project_id",
        "grain",
        "bucket_start",
        "executions",
        "prompt_id",
        postgresql_where=sa.text("level = 'prompt'"),
    ),
    sa.Index(
        "ix_execution_rollups_prompt_cost_usd",
        "project_id",
        "grain",
        "bucket_start",
        "cost_usd",
        "prompt_id",
        postgresql_where=sa.text("level = 'prompt'"),
    ),
)

# --- per-prompt running totals (0013): a window's top prompts without reading every prompt --------

prompt_running_totals = sa.Table(
    "prompt_running_totals",
    metadata,
    # Per prompt and hour in which it ran: its executions and cost from its first execution to
    # the end of that hour (its total before T: its latest row with hour < T). Kept by the fold.
    sa.Column(
        "project_id",
        UUID,
        sa.ForeignKey("projects.project_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("prompt_id", UUID, primary_key=True),
    sa.Column("hour", TS, primary_key=True),
    sa.Column("executions", sa.BigInteger(), nullable=False),
    sa.Column("cost_usd", sa.Numeric(20, 8), nullable=False),
)

prompt_totals = sa.Table(
    "prompt_totals",
    metadata,
    # Per prompt: its executions and cost of all time (an upper bound of any window's), read
    # largest first by the ranking of a window's top prompts. Kept by the fold.
    sa.Column(
        "project_id",
        UUID,
        sa.ForeignKey("projects.project_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("prompt_id", UUID, primary_key=True),
    sa.Column("executions", sa.BigInteger(), nullable=False),
    sa.Column("cost_usd", sa.Numeric(20, 8), nullable=False),
    sa.Index("ix_prompt_totals_executions", "project_id", "executions", "prompt_id"),
    sa.Index("ix_prompt_totals_cost", "project_id", "cost_usd", "prompt_id"),
)

# --- per-prompt totals of 8 days (0014): a week's top prompts from one sorted list ----------------

prompt_eight_day_totals = sa.Table(
    "prompt_eight_day_totals",
    metadata,
    # Per prompt and UTC day: its executions and cost in the 8 days from that day's start (a
    # row for each day in which it ran and the 7 before), read largest first within a day by the
    # ranking of a window of up to a week that starts in that day. Kept by the fold.
    sa.Column(
        "project_id",
        UUID,
        sa.ForeignKey("projects.project_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("day", TS, primary_key=True),
    sa.Column("prompt_id", UUID, primary_key=True),
    sa.Column("executions", sa.BigInteger(), nullable=False),
    sa.Column("cost_usd", sa.Numeric(20, 8), nullable=False),
    sa.Index(
        "ix_prompt_eight_day_totals_executions", "project_id", "day", "executions", "prompt_id"
    ),
    sa.Index("ix_prompt_eight_day_totals_cost_usd", "project_id", "day", "cost_usd", "prompt_id"),
)
