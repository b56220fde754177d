"""Analytics rollups: per project, prompt, version, label and model, one row per hour and one per
day, maintained by a trigger on the execution's finishing write (status becomes succeeded or
failed) and backfilled here from the executions that already finished.

Each row carries counters (executions, outcomes, tokens, cost, latency sum) and a latency
histogram: ``ROLLUP_SLOTS`` fixed log-spaced buckets (ratio 1.08, so any percentile read from
merged histograms is within 4 % of the exact value). ``analytics_slot`` is the one definition of
the bucketing in SQL; ``prompt_ledger.histogram`` mirrors it (a test keeps them equal).

Revision ID: 0008
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLOTS = 180  # prompt_ledger.histogram.SLOTS

SLOT_FUNCTION = f"""
CREATE FUNCTION analytics_slot(latency_ms integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN latency_ms IS NULL THEN NULL
                WHEN latency_ms < 1 THEN 1
                ELSE least({SLOTS}, 2 + floor(ln(latency_ms) / ln(1.08))::integer) END
$$
"""

LABEL_FUNCTION = """
CREATE FUNCTION analytics_label(resolved_by text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(substring(resolved_by FROM '^label:(.*)$'), '')
$$
"""

# One upsert per grain; the histogram slot is incremented in place.
ROLLUP_FUNCTION = f"""
CREATE FUNCTION analytics_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_slot integer := analytics_slot(NEW.latency_ms);
    v_ok integer := (NEW.status = 'succeeded')::integer;
BEGIN
    INSERT INTO execution_rollups AS r (
        project_id, grain, bucket_start, prompt_id, version_id, label, model_id, executions,
        succeeded, failed, prompt_tokens, response_tokens, cost_usd, latency_count,
        latency_ms_sum, latency_hist)
    SELECT NEW.project_id, g.grain, date_trunc(g.grain, NEW.created_at, 'UTC'), NEW.prompt_id,
           NEW.version_id, analytics_label(NEW.resolved_by), NEW.model_id, 1, v_ok, 1 - v_ok,
           COALESCE(NEW.prompt_tokens, 0), COALESCE(NEW.response_tokens, 0),
           COALESCE(NEW.cost_usd, 0), (v_slot IS NOT NULL)::integer,
           COALESCE(NEW.latency_ms, 0),
           CASE WHEN v_slot IS NULL THEN array_fill(0, ARRAY[{SLOTS}])
                ELSE array_fill(0, ARRAY[v_slot - 1]) || 1 || array_fill(0, ARRAY[{SLOTS} - v_slot])
           END
    FROM (VALUES ('hour'), ('day')) AS g(grain)
    ON CONFLICT (project_id, grain, bucket_start, prompt_id, version_id, label, model_id)
    DO UPDATE SET
        executions = r.executions + 1,
        succeeded = r.succeeded + v_ok,
        failed = r.failed + 1 - v_ok,
        prompt_tokens = r.prompt_tokens + COALESCE(NEW.prompt_tokens, 0),
        response_tokens = r.response_tokens + COALESCE(NEW.response_tokens, 0),
        cost_usd = r.cost_usd + COALESCE(NEW.cost_usd, 0),
        latency_count = r.latency_count + (v_slot IS NOT NULL)::integer,
        latency_ms_sum = r.latency_ms_sum + COALESCE(NEW.latency_ms, 0),
        latency_hist[COALESCE(v_slot, 1)] =
            r.latency_hist[COALESCE(v_slot, 1)] + (v_slot IS NOT NULL)::integer;
    RETURN NULL;
END
$$
"""

TRIGGERS = [
    """
    CREATE TRIGGER executions_rollup_finished AFTER UPDATE OF status ON executions
    FOR EACH ROW
    WHEN (NEW.status IN ('succeeded', 'failed') AND OLD.status NOT IN ('succeeded', 'failed'))
    EXECUTE FUNCTION analytics_rollup()
    """,
    """
    CREATE TRIGGER executions_rollup_inserted AFTER INSERT ON executions
    FOR EACH ROW WHEN (NEW.status IN ('succeeded', 'failed'))
    EXECUTE FUNCTION analytics_rollup()
    """,
]

# The same aggregation as queries.sql's rebuild_rollups, frozen at this revision.
BACKFILL = f"""
WITH e AS (
    SELECT project_id, prompt_id, version_id, model_id, analytics_label(resolved_by) AS label,
           created_at, status, prompt_tokens, response_tokens, cost_usd, latency_ms,
           analytics_slot(latency_ms) AS slot
    FROM executions WHERE status IN ('succeeded', 'failed')
), by_slot AS (
    SELECT e.project_id, g.grain, date_trunc(g.grain, e.created_at, 'UTC') AS bucket_start,
           e.prompt_id, e.version_id, e.label, e.model_id, e.slot,
           count(*) AS executions,
           count(*) FILTER (WHERE e.status = 'succeeded') AS succeeded,
           COALESCE(sum(e.prompt_tokens), 0) AS prompt_tokens,
           COALESCE(sum(e.response_tokens), 0) AS response_tokens,
           COALESCE(sum(e.cost_usd), 0) AS cost_usd,
           COALESCE(sum(e.latency_ms), 0) AS latency_ms_sum
    FROM e CROSS JOIN (VALUES ('hour'), ('day')) AS g(grain)
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
)
INSERT INTO execution_rollups (
    project_id, grain, bucket_start, prompt_id, version_id, label, model_id, executions,
    succeeded, failed, prompt_tokens, response_tokens, cost_usd, latency_count,
    latency_ms_sum, latency_hist)
SELECT project_id, grain, bucket_start, prompt_id, version_id, label, model_id,
       sum(executions), sum(succeeded), sum(executions) - sum(succeeded), sum(prompt_tokens),
       sum(response_tokens), sum(cost_usd), COALESCE(sum(executions) FILTER (WHERE slot IS NOT NULL), 0),
       sum(latency_ms_sum),
       (SELECT array_agg(COALESCE(h.n, 0)::integer ORDER BY i)
        FROM generate_series(1, {SLOTS}) AS i
        LEFT JOIN unnest(array_agg(slot), array_agg(executions)) AS h(slot, n) ON h.slot = i)
FROM by_slot
GROUP BY project_id, grain, bucket_start, prompt_id, version_id, label, model_id
"""


def upgrade() -> None:
    op.create_table(
        "execution_rollups",
        sa.Column("project_id", sa.UUID(), nullable=False),
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
        sa.Column("latency_hist", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.project_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(
            "project_id", "grain", "bucket_start", "prompt_id", "version_id", "label", "model_id"
        ),
        sa.CheckConstraint("grain IN ('hour', 'day')", name="ck_execution_rollups_grain"),
        postgresql_with={"fillfactor": 70},
    )
    op.create_index(
        "ix_execution_rollups_prompt",
        "execution_rollups",
        ["project_id", "prompt_id", "grain", "bucket_start"],
    )
    op.execute(SLOT_FUNCTION)
    op.execute(LABEL_FUNCTION)
    op.execute(ROLLUP_FUNCTION)
    for trigger in TRIGGERS:
        op.execute(trigger)
    op.execute(BACKFILL)


def downgrade() -> None:
    op.execute("DROP TRIGGER executions_rollup_inserted ON executions")
    op.execute("DROP TRIGGER executions_rollup_finished ON executions")
    op.execute("DROP FUNCTION analytics_rollup()")
    op.execute("DROP FUNCTION analytics_label(text)")
    op.execute("DROP FUNCTION analytics_slot(integer)")
    op.drop_table("execution_rollups")
