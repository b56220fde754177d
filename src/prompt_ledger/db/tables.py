"""The schema the code expects, declared once.

Not an ORM: nothing here runs at request time. The alembic migrations in ``schema/`` build this
schema, and ``tests/integration/test_migrations.py`` fails when the migrated database and this
declaration drift apart. Queries live in ``queries.sql``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

metadata = sa.MetaData()


UUID = pg.UUID(as_uuid=True)
TS = sa.DateTime(timezone=True)
NOW = sa.text("now()")
GEN_UUID = sa.text("gen_random_uuid()")


def _id(name: str) -> sa.Column[object]:
    return sa.Column(name, UUID, primary_key=True, server_default=GEN_UUID)


def _created() -> sa.Column[object]:
    return sa.Column("created_at", TS, nullable=False, server_default=NOW)


projects = sa.Table(
    "projects",
    metadata,
    _id("project_id"),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    _created(),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    _id("key_id"),
    sa.Column(
        "project_id",
        UUID,
        sa.ForeignKey("projects.project_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", pg.ARRAY(sa.Text()), nullable=False),
    _created(),
    sa.Column("last_used_at", TS),
    sa.Column("revoked_at", TS),
    # the key's own rate limits: NULL is the instance default, 0 no limit
    sa.Column("requests_per_minute", sa.Integer()),
    sa.Column("executions_per_minute", sa.Integer()),
    sa.CheckConstraint("requests_per_minute >= 0", name="ck_api_keys_requests_per_minute"),
    sa.CheckConstraint("executions_per_minute >= 0", name="ck_api_keys_executions_per_minute"),
)

rate_limit_counts = sa.Table(
    "rate_limit_counts",
    metadata,
    # requests and executions of a key in one minute (fixed windows, shared by every process)
    sa.Column(
        "key_id",
        UUID,
        sa.ForeignKey("api_keys.key_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("window_start", TS, primary_key=True),
    sa.Column("count", sa.Integer(), nullable=False),
)

prompts = sa.Table(
    "prompts",
    metadata,
    _id("prompt_id"),
    sa.Column(
        "project_id", UUID, sa.ForeignKey("projects.project_id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False, server_default="full"),
    sa.Column("description", sa.Text()),
    sa.Column("owner_team", sa.String(100)),
    sa.Column(
        "active_version_id",
        UUID,
        sa.ForeignKey(
            "prompt_versions.version_id",
            use_alter=True,
            name="fk_prompts_active_version",
            ondelete="SET NULL",
        ),
    ),
    _created(),
    sa.Column("updated_at", TS, nullable=False, server_default=NOW),
    sa.UniqueConstraint("project_id", "name", name="uq_prompts_project_name"),
    sa.CheckConstraint("mode IN ('full', 'tracking')", name="ck_prompts_mode"),
    sa.Index("ix_prompts_project_owner_team", "project_id", "owner_team"),
)

prompt_versions = sa.Table(
    "prompt_versions",
    metadata,
    _id("version_id"),
    sa.Column(
        "prompt_id", UUID, sa.ForeignKey("prompts.prompt_id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("version_number", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False, server_default="text"),
    sa.Column("template_source", sa.Text()),
    sa.Column("messages", pg.JSONB()),
    sa.Column("model_defaults", pg.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column(
        "variables", pg.ARRAY(sa.Text()), nullable=False, server_default=sa.text("'{}'::text[]")
    ),
    sa.Column("checksum_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="draft"),
    sa.Column("created_by", sa.String(100)),
    sa.Column("commit_message", sa.Text()),
    _created(),
    sa.UniqueConstraint("prompt_id", "checksum_hash", name="uq_prompt_versions_checksum"),
    sa.UniqueConstraint("prompt_id", "version_number", name="uq_prompt_versions_number"),
    sa.CheckConstraint(
        "status IN ('active', 'draft', 'archived')", name="ck_prompt_versions_status"
    ),
    sa.CheckConstraint("kind IN ('text', 'chat')", name="ck_prompt_versions_kind"),
    sa.CheckConstraint(
        "(kind = 'text' AND template_source IS NOT NULL AND messages IS NULL) OR "
        "(kind = 'chat' AND messages IS NOT NULL AND template_source IS NULL)",
        name="ck_prompt_versions_content",
    ),
)

prompt_labels = sa.Table(
    "prompt_labels",
    metadata,
    sa.Column(
        "prompt_id", UUID, sa.ForeignKey("prompts.prompt_id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("label", sa.String(64), primary_key=True),
    sa.Column("version_id", UUID, sa.ForeignKey("prompt_versions.version_id"), nullable=False),
    sa.Column("updated_by", sa.String(100)),
    sa.Column("updated_at", TS, nullable=False, server_default=NOW),
    sa.Index("ix_prompt_labels_label", "label"),
)

label_history = sa.Table(
    "label_history",
    metadata,
    sa.Column("event_id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
    sa.Column(
        "prompt_id", UUID, sa.ForeignKey("prompts.prompt_id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("label", sa.String(64), nullable=False),
    sa.Column("from_version_id", UUID),
    sa.Column("to_version_id", UUID),
    sa.Column("actor", sa.String(100)),
    sa.Column("reason", sa.Text()),
    _created(),
    sa.Index("ix_label_history_prompt_label", "prompt_id", "label", "event_id"),
)

models = sa.Table(
    "models",
    metadata,
    _id("model_id"),
    sa.Column("provider", sa.String(50), nullable=False),
    sa.Column("model_name", sa.String(100), nullable=False),
    sa.Column("max_tokens", sa.Integer()),
    sa.Column("supports_streaming", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("input_price_per_mtok", sa.Numeric(12, 6)),
    sa.Column("output_price_per_mtok", sa.Numeric(12, 6)),
    _created(),
    sa.Column("updated_at", TS, nullable=False, server_default=NOW),
    # 'catalog': loaded from the curated list (its prices follow the list on every migrate);
    # 'user': created or changed through the API (the loader never touches it again).
    sa.Column("source", sa.String(8), nullable=False, server_default="user"),
    sa.UniqueConstraint("provider", "model_name", name="uq_models_provider_name"),
    sa.CheckConstraint("source IN ('catalog', 'user')", name="ck_models_source"),
)

executions = sa.Table(
    "executions",
    metadata,
    _id("execution_id"),
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
    _created(),
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
    _id("input_id"),
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
    _created(),
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

# --- console (web console sign-in sessions) -----------------------------------------------------

console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("session_hash", sa.String(64), primary_key=True),
    sa.Column("key_hash", sa.String(64), nullable=False, index=True),
    sa.Column(
        "project_id", UUID, sa.ForeignKey("projects.project_id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    _created(),
    sa.Column("last_seen_at", TS, nullable=False, server_default=NOW),
    sa.Column("expires_at", TS, nullable=False, index=True),
)

# The executions list's correlation-id filter (a rare id must not scan a project's executions).
sa.Index(
    "ix_executions_project_correlation",
    executions.c.project_id,
    executions.c.correlation_id,
    executions.c.created_at,
    postgresql_where=executions.c.correlation_id.isnot(None),
)

# --- deploy (0003): the instance operator key, when API_KEY is not set -------------------------

operator_key = sa.Table(
    "operator_key",
    metadata,
    # One row at most: the instance operator's bootstrap key, generated by `promptledger
    # migrate` in production when API_KEY is unset. Only its SHA-256 is stored.
    sa.Column("singleton", sa.Boolean(), primary_key=True, server_default=sa.true()),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    _created(),
    sa.CheckConstraint("singleton", name="ck_operator_key_singleton"),
)

# --- analytics (0008): pending finished executions, and their rollups ---------------------------

analytics_pending = sa.Table(
    "analytics_pending",
    metadata,
    # Filled by the trigger ``analytics_enqueue`` (schema/versions/0008_analytics.py) on the
    # finishing write of each execution; emptied by ``fold_rollups``.
    sa.Column("execution_id", UUID, primary_key=True),
    # No index but the key: each finishing write inserts here, and the table stays small (readers
    # and the worker's task fold it), so a reader's scan for its project is cheap.
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
)
