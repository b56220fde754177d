"""Analytics rollups of finished executions.

- ``analytics_pending``: the finishing write of each execution (its status becoming succeeded or
  failed, by any code path) adds its id here, through the trigger ``executions_enqueue_*``: one
  small insert, no row that concurrent executions contend for.
- ``execution_rollups``: counters and a latency histogram per level, grain (hour, day) and bucket.
  Levels: ``project`` (every dimension collapsed), ``model``, ``prompt``, ``version``
  (prompt + version), ``label`` (prompt + the label that resolved the version) and
  ``prompt_model``; a collapsed dimension holds the nil UUID or ''. Pending executions are folded
  in (``fold_rollups`` in queries.sql) by the readers of a project and by the worker's
  hourly ``prune`` task; this revision folds the executions that finished before it.

The latency histogram has ``SLOTS`` fixed log-spaced buckets (ratio 1.08), stored sparse: the
slots that hold latencies (``latency_slots``, ascending) and their counts (``latency_counts``).
Any percentile read from merged histograms is within 4 % of the exact value. ``analytics_slot`` is the one definition of the bucketing in SQL;
``prompt_ledger.histogram`` mirrors it (a test keeps them equal).

Revision ID: 0008
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLOTS = 180  # prompt_ledger.histogram.SLOTS
NIL = "00000000-0000-0000-0000-000000000000"  # a dimension a level collapses

FUNCTIONS = [
    f"""
    CREATE FUNCTION analytics_slot(latency_ms integer) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN latency_ms IS NULL THEN NULL
                    WHEN latency_ms < 1 THEN 1
                    ELSE least({SLOTS}, 2 + floor(ln(latency_ms) / ln(1.08))::integer) END
    $$
    """,
    """
    CREATE FUNCTION analytics_label(resolved_by text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT COALESCE(substring(resolved_by FROM '^label:(.*)$'), '')
    $$
    """,
    """
    CREATE FUNCTION analytics_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO analytics_pending (execution_id, project_id)
        VALUES (NEW.execution_id, NEW.project_id) ON CONFLICT DO NOTHING;
        RETURN NULL;
    END
    $$
    """,
]

TRIGGERS = [
    """
    CREATE TRIGGER executions_enqueue_finished AFTER UPDATE OF status ON executions
    FOR EACH ROW
    WHEN (NEW.status IN ('succeeded', 'failed') AND OLD.status NOT IN ('succeeded', 'failed'))
    EXECUTE FUNCTION analytics_enqueue()
    """,
    """
    CREATE TRIGGER executions_enqueue_inserted AFTER INSERT ON executions
    FOR EACH ROW WHEN (NEW.status IN ('succeeded', 'failed'))
    EXECUTE FUNCTION analytics_enqueue()
    """,
]

# queries.sql's enqueue_all_finished and fold_rollups, frozen at this revision.
BACKFILL = [
    """
    INSERT INTO analytics_pending (execution_id, project_id)
    SELECT execution_id, project_id FROM executions WHERE status IN ('succeeded', 'failed')
    """,
    f"""
    WITH batch AS (
        DELETE FROM analytics_pending RETURNING execution_id
    ), e AS (
        SELECT x.project_id, x.prompt_id, x.version_id, x.model_id, x.created_at, x.status,
               x.prompt_tokens, x.response_tokens, x.cost_usd, x.latency_ms,
               analytics_label(x.resolved_by) AS label, analytics_slot(x.latency_ms) AS slot
        FROM executions x JOIN batch USING (execution_id)
        WHERE x.status IN ('succeeded', 'failed')
    ), keyed AS (
        SELECT e.*, g.grain, date_trunc(g.grain, e.created_at, 'UTC') AS bucket_start, l.level,
               CASE WHEN l.level IN ('project', 'model') THEN '{NIL}'::uuid
                    ELSE e.prompt_id END AS k_prompt,
               CASE WHEN l.level = 'version' THEN e.version_id ELSE '{NIL}'::uuid END AS k_version,
               CASE WHEN l.level = 'label' THEN e.label ELSE '' END AS k_label,
               CASE WHEN l.level IN ('model', 'prompt_model') THEN e.model_id
                    ELSE '{NIL}'::uuid END AS k_model
        FROM e
        CROSS JOIN (VALUES ('hour'), ('day')) AS g(grain)
        CROSS JOIN (VALUES ('project'), ('model'), ('prompt'), ('version'), ('label'),
                           ('prompt_model')) AS l(level)
    ), by_slot AS (
        SELECT project_id, level, grain, bucket_start, k_prompt, k_version, k_label, k_model,
               slot, count(*) AS executions,
               count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
               COALESCE(sum(prompt_tokens), 0) AS prompt_tokens,
               COALESCE(sum(response_tokens), 0) AS response_tokens,
               COALESCE(sum(cost_usd), 0) AS cost_usd,
               COALESCE(sum(latency_ms), 0) AS latency_ms_sum
        FROM keyed GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
    )
    INSERT INTO execution_rollups AS r (
        project_id, level, grain, bucket_start, prompt_id, version_id, label, model_id,
        executions, succeeded, failed, prompt_tokens, response_tokens, cost_usd, latency_count,
        latency_ms_sum, latency_slots, latency_counts)
    SELECT project_id, level, grain, bucket_start, k_prompt, k_version, k_label, k_model,
           sum(executions), sum(succeeded), sum(executions) - sum(succeeded), sum(prompt_tokens),
           sum(response_tokens), sum(cost_usd),
           COALESCE(sum(executions) FILTER (WHERE slot IS NOT NULL), 0), sum(latency_ms_sum),
           COALESCE(array_agg(slot ORDER BY slot) FILTER (WHERE slot IS NOT NULL), '{{}}'),
           COALESCE(array_agg(executions::integer ORDER BY slot) FILTER (WHERE slot IS NOT NULL),
                    '{{}}')
    FROM by_slot
    GROUP BY project_id, level, grain, bucket_start, k_prompt, k_version, k_label, k_model
    """,
]


def upgrade() -> None:
    op.create_table(
        "analytics_pending",
        sa.Column("execution_id", sa.UUID(), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.PrimaryKeyConstraint("execution_id"),
    )
    op.create_table(
        "execution_rollups",
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("grain", sa.String(length=4), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prompt_id", sa.UUID(), nullable=False),
        sa.Column("version_id", sa.UUID(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("model_id", sa.UUID(), nullable=False),
        sa.Column("executions", sa.BigInteger(), nullable=False),
        sa.Column("succeeded", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("response_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=20, scale=8), nullable=False),
        sa.Column("latency_count", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms_sum", sa.BigInteger(), nullable=False),
        sa.Column("latency_slots", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("latency_counts", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.project_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(
            "project_id",
            "level",
            "grain",
            "bucket_start",
            "prompt_id",
            "version_id",
            "label",
            "model_id",
        ),
        sa.CheckConstraint("grain IN ('hour', 'day')", name="ck_execution_rollups_grain"),
        sa.CheckConstraint(
            "level IN ('project', 'model', 'prompt', 'version', 'label', 'prompt_model')",
            name="ck_execution_rollups_level",
        ),
    )
    op.create_index(
        "ix_execution_rollups_prompt",
        "execution_rollups",
        ["project_id", "prompt_id", "level", "grain", "bucket_start"],
    )
    for statement in [*FUNCTIONS, *TRIGGERS, *BACKFILL]:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER executions_enqueue_inserted ON executions")
    op.execute("DROP TRIGGER executions_enqueue_finished ON executions")
    op.execute("DROP FUNCTION analytics_enqueue()")
    op.execute("DROP FUNCTION analytics_label(text)")
    op.execute("DROP FUNCTION analytics_slot(integer)")
    op.drop_table("execution_rollups")
    op.drop_table("analytics_pending")
