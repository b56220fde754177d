"""The ledger: projects, API keys, prompts, versions, labels, models, executions, spans.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 19:03:02.406881
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column(
            "model_id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("max_tokens", sa.Integer(), nullable=True),
        sa.Column(
            "supports_streaming", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("input_price_per_mtok", sa.Numeric(precision=12, scale=6), nullable=True),
        sa.Column("output_price_per_mtok", sa.Numeric(precision=12, scale=6), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("model_id"),
        sa.UniqueConstraint("provider", "model_name", name="uq_models_provider_name"),
    )
    op.create_table(
        "projects",
        sa.Column(
            "project_id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("project_id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.project_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key_id"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_index(op.f("ix_api_keys_project_id"), "api_keys", ["project_id"], unique=False)
    op.create_table(
        "prompts",
        sa.Column(
            "prompt_id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("mode", sa.String(length=16), server_default="full", nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner_team", sa.String(length=100), nullable=True),
        sa.Column("active_version_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("mode IN ('full', 'tracking')", name="ck_prompts_mode"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.project_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("prompt_id"),
        sa.UniqueConstraint("project_id", "name", name="uq_prompts_project_name"),
    )
    op.create_index(
        "ix_prompts_project_owner_team", "prompts", ["project_id", "owner_team"], unique=False
    )
    op.create_table(
        "label_history",
        sa.Column("event_id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("prompt_id", sa.UUID(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("from_version_id", sa.UUID(), nullable=True),
        sa.Column("to_version_id", sa.UUID(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompts.prompt_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(
        "ix_label_history_prompt_label",
        "label_history",
        ["prompt_id", "label", "event_id"],
        unique=False,
    )
    op.create_table(
        "prompt_versions",
        sa.Column(
            "version_id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
        sa.Column("prompt_id", sa.UUID(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), server_default="text", nullable=False),
        sa.Column("template_source", sa.Text(), nullable=True),
        sa.Column("messages", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "model_defaults",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "variables",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
        sa.Column("checksum_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="draft", nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("commit_message", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(kind = 'text' AND template_source IS NOT NULL AND messages IS NULL) OR (kind = 'chat' AND messages IS NOT NULL AND template_source IS NULL)",
            name="ck_prompt_versions_content",
        ),
        sa.CheckConstraint("kind IN ('text', 'chat')", name="ck_prompt_versions_kind"),
        sa.CheckConstraint(
            "status IN ('active', 'draft', 'archived')", name="ck_prompt_versions_status"
        ),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompts.prompt_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("version_id"),
        sa.UniqueConstraint("prompt_id", "checksum_hash", name="uq_prompt_versions_checksum"),
        sa.UniqueConstraint("prompt_id", "version_number", name="uq_prompt_versions_number"),
    )
    op.create_table(
        "executions",
        sa.Column(
            "execution_id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("prompt_id", sa.UUID(), nullable=False),
        sa.Column("version_id", sa.UUID(), nullable=False),
        sa.Column("model_id", sa.UUID(), nullable=False),
        sa.Column("execution_mode", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("environment", sa.String(length=64), nullable=True),
        sa.Column("resolved_by", sa.String(length=80), nullable=True),
        sa.Column("served_by", sa.String(length=32), nullable=True),
        sa.Column("rendered_prompt", sa.Text(), nullable=True),
        sa.Column("response_text", sa.Text(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("response_tokens", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("provider_latency_ms", sa.Integer(), nullable=True),
        sa.Column("input_price_per_mtok", sa.Numeric(precision=12, scale=6), nullable=True),
        sa.Column("output_price_per_mtok", sa.Numeric(precision=12, scale=6), nullable=True),
        sa.Column("cost_usd", sa.Numeric(precision=14, scale=8), nullable=True),
        sa.Column("error_type", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("correlation_id", sa.String(length=100), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("execution_mode IN ('sync', 'async')", name="ck_executions_mode"),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')",
            name="ck_executions_status",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["models.model_id"],
        ),
        sa.ForeignKeyConstraint(["project_id"], ["projects.project_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["prompts.prompt_id"],
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["prompt_versions.version_id"],
        ),
        sa.PrimaryKeyConstraint("execution_id"),
        sa.UniqueConstraint("project_id", "idempotency_key", name="uq_executions_idempotency"),
    )
    op.create_index(
        "ix_executions_project_created", "executions", ["project_id", "created_at"], unique=False
    )
    op.create_index("ix_executions_prompt_id", "executions", ["prompt_id"], unique=False)
    op.create_index("ix_executions_status", "executions", ["status"], unique=False)
    op.create_table(
        "prompt_labels",
        sa.Column("prompt_id", sa.UUID(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.UUID(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompts.prompt_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["prompt_versions.version_id"],
        ),
        sa.PrimaryKeyConstraint("prompt_id", "label"),
    )
    op.create_index("ix_prompt_labels_label", "prompt_labels", ["label"], unique=False)
    op.create_table(
        "execution_inputs",
        sa.Column(
            "input_id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
        sa.Column("execution_id", sa.UUID(), nullable=False),
        sa.Column("variables_json", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("model_config_json", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("params_json", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(["execution_id"], ["executions.execution_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("input_id"),
        sa.UniqueConstraint("execution_id"),
    )
    op.create_table(
        "spans",
        sa.Column(
            "span_id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("trace_id", sa.String(length=100), nullable=False),
        sa.Column("parent_span_id", sa.UUID(), nullable=True),
        sa.Column("execution_id", sa.UUID(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("input_data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("output_data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("model", sa.String(length=100), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["execution_id"], ["executions.execution_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.project_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("span_id"),
    )
    op.create_index("ix_spans_execution_id", "spans", ["execution_id"], unique=False)
    op.create_index("ix_spans_project_trace", "spans", ["project_id", "trace_id"], unique=False)
    op.create_foreign_key(
        "fk_prompts_active_version",
        "prompts",
        "prompt_versions",
        ["active_version_id"],
        ["version_id"],
        ondelete="SET NULL",
    )
    # Label history is append-only: a move is a new row, never an edit.
    op.execute(
        """
        CREATE FUNCTION label_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'label_history is append-only'; END; $$;
        CREATE TRIGGER label_history_no_update BEFORE UPDATE ON label_history
        FOR EACH ROW EXECUTE FUNCTION label_history_append_only();
        """
    )
    # The default project owns the bootstrap key (API_KEY).
    op.execute(
        "INSERT INTO projects (project_id, name) "
        "VALUES ('00000000-0000-0000-0000-000000000001', 'default')"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS label_history_no_update ON label_history")
    op.execute("DROP FUNCTION IF EXISTS label_history_append_only()")
    op.drop_constraint("fk_prompts_active_version", "prompts", type_="foreignkey")
    op.drop_index("ix_spans_project_trace", table_name="spans")
    op.drop_index("ix_spans_execution_id", table_name="spans")
    op.drop_table("spans")
    op.drop_table("execution_inputs")
    op.drop_index("ix_prompt_labels_label", table_name="prompt_labels")
    op.drop_table("prompt_labels")
    op.drop_index("ix_executions_status", table_name="executions")
    op.drop_index("ix_executions_prompt_id", table_name="executions")
    op.drop_index("ix_executions_project_created", table_name="executions")
    op.drop_table("executions")
    op.drop_table("prompt_versions")
    op.drop_index("ix_label_history_prompt_label", table_name="label_history")
    op.drop_table("label_history")
    op.drop_index("ix_prompts_project_owner_team", table_name="prompts")
    op.drop_table("prompts")
    op.drop_index(op.f("ix_api_keys_project_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("projects")
    op.drop_table("models")
