"""Tables of the registry: prompts, their versions, labels and label history, and the model
catalogue (declared with the rest of the schema: ``tables.py``)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from prompt_ledger.db.columns import NOW, TS, UUID, created_column, id_column, metadata

prompts = sa.Table(
    "prompts",
    metadata,
    id_column("prompt_id"),
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
    created_column(),
    sa.Column("updated_at", TS, nullable=False, server_default=NOW),
    sa.UniqueConstraint("project_id", "name", name="uq_prompts_project_name"),
    sa.CheckConstraint("mode IN ('full', 'tracking')", name="ck_prompts_mode"),
    sa.Index("ix_prompts_project_owner_team", "project_id", "owner_team"),
)

prompt_versions = sa.Table(
    "prompt_versions",
    metadata,
    id_column("version_id"),
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
    created_column(),
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
    created_column(),
    sa.Index("ix_label_history_prompt_label", "prompt_id", "label", "event_id"),
)

models = sa.Table(
    "models",
    metadata,
    id_column("model_id"),
    sa.Column("provider", sa.String(50), nullable=False),
    sa.Column("model_name", sa.String(100), nullable=False),
    sa.Column("max_tokens", sa.Integer()),
    sa.Column("supports_streaming", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("input_price_per_mtok", sa.Numeric(12, 6)),
    sa.Column("output_price_per_mtok", sa.Numeric(12, 6)),
    created_column(),
    sa.Column("updated_at", TS, nullable=False, server_default=NOW),
    # 'catalog': loaded from the curated list (its prices follow the list on every migrate);
    # 'user': created or changed through the API (the loader never touches it again).
    sa.Column("source", sa.String(8), nullable=False, server_default="user"),
    sa.UniqueConstraint("provider", "model_name", name="uq_models_provider_name"),
    sa.CheckConstraint("source IN ('catalog', 'user')", name="ck_models_source"),
)
