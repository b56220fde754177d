"""Per-prompt running totals, so that ranking a window's top prompts does not read every prompt.

The summary ranked all of a project's prompts over the window on each request (the prompt-level
rollup rows of the window's cover: about a dozen a prompt, 10,000 prompts -> 100,000+ rows). Two
tables, kept by the same fold that keeps the rollups (``fold_rollups`` in queries.sql):

- ``prompt_running_totals``: per prompt and hour in which it ran, its executions and cost from
  its first execution up to the end of that hour. A prompt's total before a moment T (whole
  hours) is its latest row with ``hour < T``; its total in a window is that at the window's end
  minus that at its start: two index probes, whatever the window.
- ``prompt_totals``: per prompt, its executions and cost of all time, indexed by each.

The ranking (``services/analytics.py: top_prompts``) reads sorted lists whose values bound a
prompt's window total: the prompt rollup rows of the few buckets covering the window (two new
partial indexes order them by executions and by cost within a bucket), or, for long windows, the
all-time totals; it stops once no prompt not yet met can reach the N-th best window total met.

This revision derives both from the prompt-level hour rollup rows (the executions folded so far;
the fold adds the rest).

(An earlier draft of this revision dropped ``ON CONFLICT DO NOTHING`` from the write path's
trigger ``analytics_enqueue`` to save its speculative insertion, about 1.5 % of an execution's
statement time. It stays: an execution finished a second time (a row taken back to running by
hand, or a future path that does) must not have its ledger write refused by the analytics
queue's key.)

Revision ID: 0013
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = [
    """
    INSERT INTO prompt_running_totals (project_id, prompt_id, hour, executions, cost_usd)
    SELECT project_id, prompt_id, bucket_start,
           sum(executions) OVER w, sum(cost_usd) OVER w
    FROM execution_rollups
    WHERE level = 'prompt' AND grain = 'hour'
    WINDOW w AS (PARTITION BY project_id, prompt_id ORDER BY bucket_start)
    """,
    """
    INSERT INTO prompt_totals (project_id, prompt_id, executions, cost_usd)
    SELECT project_id, prompt_id, sum(executions), sum(cost_usd)
    FROM execution_rollups
    WHERE level = 'prompt' AND grain = 'hour'
    GROUP BY project_id, prompt_id
    """,
]


def upgrade() -> None:
    op.create_table(
        "prompt_running_totals",
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("prompt_id", sa.UUID(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("executions", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=20, scale=8), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.project_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "prompt_id", "hour"),
    )
    op.create_table(
        "prompt_totals",
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("prompt_id", sa.UUID(), nullable=False),
        sa.Column("executions", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=20, scale=8), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.project_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "prompt_id"),
    )
    op.create_index(
        "ix_prompt_totals_executions", "prompt_totals", ["project_id", "executions", "prompt_id"]
    )
    op.create_index(
        "ix_prompt_totals_cost", "prompt_totals", ["project_id", "cost_usd", "prompt_id"]
    )
    for column in ("executions", "cost_usd"):
        op.create_index(
            f"ix_execution_rollups_prompt_{column}",
            "execution_rollups",
            ["project_id", "grain", "bucket_start", column, "prompt_id"],
            postgresql_where=sa.text("level = 'prompt'"),
        )
    for statement in BACKFILL:
        op.execute(statement)


def downgrade() -> None:
    for column in ("executions", "cost_usd"):
        op.drop_index(f"ix_execution_rollups_prompt_{column}", table_name="execution_rollups")
    op.drop_table("prompt_totals")
    op.drop_table("prompt_running_totals")
