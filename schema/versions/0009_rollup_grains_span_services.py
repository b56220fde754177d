"""Analytics rollups at five grains, so that any window reads a few rows per group; spans indexed
by service.

``execution_rollups`` held hour and day rows: a 30-day window read up to 30 day rows and 46 hour
rows per group, and the latency histograms of all of them were merged per answer. This adds the
grains ``4h``, ``4d`` and ``16d``: buckets aligned on the Unix epoch (as ``date_bin`` places them),
each grain's buckets made of whole buckets of the finer ones (1 h | 4 h | 1 d | 4 d | 16 d). The
service covers a window with the coarsest buckets that fit (``services/analytics.py: cover``):
at most two ranges per grain, about a dozen rows per group for any window up to 400 days.

The fold (``fold_rollups`` in queries.sql) now writes every grain; this revision derives the new
grains' rows from the hour rows that exist (every folded execution is in exactly one hour row
of each level).

The summary's ranking of every prompt reads the prompt rows' counters from
``ix_execution_rollups_counters`` alone (an index-only scan, not the wide rows with their
histograms). It also indexes the spans of each service by start (``ix_spans_service``, spans that name a
service only: not the executions' llm spans): the trace list filtered by service reads the
service's latest spans instead of walking every span (``list_traces_of_service``).

Revision ID: 0009
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_GRAINS = {"4h": "4 hours", "4d": "4 days", "16d": "16 days"}

# The new grains' rows, merged from the hour rows (counters added, histograms added slot-wise).
BACKFILL = """
WITH hourly AS (
    SELECT r.project_id, r.level, r.bucket_start, r.prompt_id, r.version_id, r.label,
           r.model_id, r.executions, r.succeeded, r.failed, r.prompt_tokens, r.response_tokens,
           r.cost_usd, r.latency_count, r.latency_ms_sum, r.latency_slots, r.latency_counts
    FROM execution_rollups r WHERE r.grain = 'hour'
), keyed AS (
    SELECT h.*, date_bin(STRIDE::interval, h.bucket_start, 'epoch') AS bucket
    FROM hourly h
), counters AS (
    SELECT project_id, level, bucket, prompt_id, version_id, label, model_id,
           sum(executions) AS executions, sum(succeeded) AS succeeded, sum(failed) AS failed,
           sum(prompt_tokens) AS prompt_tokens, sum(response_tokens) AS response_tokens,
           sum(cost_usd) AS cost_usd, sum(latency_count) AS latency_count,
           sum(latency_ms_sum) AS latency_ms_sum
    FROM keyed GROUP BY 1, 2, 3, 4, 5, 6, 7
), slots AS (
    SELECT project_id, level, bucket, prompt_id, version_id, label, model_id, o.slot,
           sum(o.n)::integer AS n
    FROM keyed CROSS JOIN LATERAL unnest(latency_slots, latency_counts) AS o(slot, n)
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
), hists AS (
    SELECT project_id, level, bucket, prompt_id, version_id, label, model_id,
           array_agg(slot ORDER BY slot) AS slots, array_agg(n ORDER BY slot) AS counts
    FROM slots GROUP BY 1, 2, 3, 4, 5, 6, 7
)
INSERT INTO execution_rollups (
    project_id, level, grain, bucket_start, prompt_id, version_id, label, model_id, executions,
    succeeded, failed, prompt_tokens, response_tokens, cost_usd, latency_count, latency_ms_sum,
    latency_slots, latency_counts)
SELECT c.project_id, c.level, GRAIN, c.bucket, c.prompt_id, c.version_id, c.label,
       c.model_id, c.executions, c.succeeded, c.failed, c.prompt_tokens, c.response_tokens,
       c.cost_usd, c.latency_count, c.latency_ms_sum, COALESCE(h.slots, '{}'),
       COALESCE(h.counts, '{}')
FROM counters c
LEFT JOIN hists h USING (project_id, level, bucket, prompt_id, version_id, label, model_id)
"""


def backfill_statements() -> list[str]:
    """The new grains' rows from the hour rows (tests/integration/test_analytics.py runs these
    against what the fold writes)."""
    return [
        BACKFILL.replace("STRIDE", f"'{stride}'").replace("GRAIN", f"'{grain}'")
        for grain, stride in NEW_GRAINS.items()
    ]


def _grains(names: list[str]) -> str:
    return "grain IN (" + ", ".join(f"'{name}'" for name in names) + ")"


def upgrade() -> None:
    op.drop_constraint("ck_execution_rollups_grain", "execution_rollups", type_="check")
    op.create_check_constraint(
        "ck_execution_rollups_grain",
        "execution_rollups",
        _grains(["hour", "4h", "day", "4d", "16d"]),
    )
    for statement in backfill_statements():
        op.execute(statement)
    op.create_index(
        "ix_execution_rollups_counters",
        "execution_rollups",
        ["project_id", "level", "grain", "bucket_start"],
        postgresql_include=["prompt_id", "executions", "cost_usd"],
    )
    op.create_index(
        "ix_spans_service",
        "spans",
        ["project_id", "service_name", "start_time"],
        postgresql_where="service_name IS NOT NULL",
    )


def downgrade() -> None:
    op.drop_index("ix_spans_service", table_name="spans")
    op.drop_index("ix_execution_rollups_counters", table_name="execution_rollups")
    op.execute("DELETE FROM execution_rollups WHERE " + _grains(list(NEW_GRAINS)))
    op.drop_constraint("ck_execution_rollups_grain", "execution_rollups", type_="check")
    op.create_check_constraint(
        "ck_execution_rollups_grain", "execution_rollups", _grains(["hour", "day"])
    )
