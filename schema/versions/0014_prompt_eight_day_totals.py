"""Per-prompt totals of the 8 days from each UTC day, so that a week's top prompts are one list.

The ranking of a window's top prompts (``services/analytics_ranking.py: top_prompts``) reads
sorted lists whose values bound each prompt's window total. For a 7-day window those were the
prompt rollup rows of the two or three 4-day buckets covering it: up to 12 days for 7, so when
prompts are alike (executions spread evenly) the bounds of thousands of prompts stay above the
N-th best window total, and the reading met most prompts (at 1,000,000 executions over 10,000
prompts: about 80 statements and 5,000 rows a summary, 67 ms).

``prompt_eight_day_totals``: per prompt and UTC day, its executions and cost in the 8 days from
that day's start, for each day in which it ran and the 7 before (a prompt's row of a day exists
when it ran in those 8 days), indexed by each within a day. Any window of whole hours of up to a
week starts in a day whose 8 days cover it, so one row per prompt bounds its window total by at
most a day's executions more: on that bench's flat distribution the first page (25 rows) of
that one list ends the ranking. Kept by the same fold that keeps the rollups.

This revision derives it from the prompt-level day rollup rows (the executions folded so far;
the fold adds the rest).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = [
    """
    INSERT INTO prompt_eight_day_totals (project_id, day, prompt_id, executions, cost_usd)
    SELECT r.project_id, r.bucket_start - k.days * interval '1 day', r.prompt_id,
           sum(r.executions), sum(r.cost_usd)
    FROM execution_rollups r CROSS JOIN generate_series(0, 7) AS k(days)
    WHERE r.level = 'prompt' AND r.grain = 'day'
    GROUP BY 1, 2, 3
    """,
]


def upgrade() -> None:
    op.create_table(
        "prompt_eight_day_totals",
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prompt_id", sa.UUID(), nullable=False),
        sa.Column("executions", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=20, scale=8), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.project_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "day", "prompt_id"),
    )
    for statement in BACKFILL:
        op.execute(statement)
    for column in ("executions", "cost_usd"):
        op.create_index(
            f"ix_prompt_eight_day_totals_{column}",
            "prompt_eight_day_totals",
            ["project_id", "day", column, "prompt_id"],
        )
    # statistics now, not at autovacuum's next pass: without them a day's page is planned as a
    # bitmap scan and sort of all the day's rows (10,000 at 1M: 115 ms) instead of the index read
    # backwards, its first 25 entries
    op.execute("ANALYZE prompt_eight_day_totals")


def downgrade() -> None:
    op.drop_table("prompt_eight_day_totals")
