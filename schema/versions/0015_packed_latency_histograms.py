"""Rollup rows also hold their latency histogram packed in one number, so that a window's
histogram is a sum of a few numbers, not a merge of thousands of (slot, count) pairs.

A window's answer merges the histograms of the rollup rows that cover it (a dozen or more a
group: hour and 4-hour rows at its edges, day, 4-day and 16-day rows in between). Stored as
sparse (slot, count) arrays, that merge unnested every filled slot of every row and grouped them
again by slot: its work grew with the slots filled, i.e. with the volume (30-day summary: 5,000
pairs at 100,000 executions, 18,000 at 1,000,000), and so did the answers' time.

``latency_packed`` is the same histogram as one numeric: the sum over its slots of count * 10 **
(12 * slot) (``prompt_ledger.histogram.PACKED_DIGITS``). Adding two rows' packed histograms adds
their counts slot by slot (no carries: a slot's count stays far below 10 ** 12), so a window's
histogram is ``sum(latency_packed)``, one numeric addition a row, in C, whatever the slots
filled; the service reads the few merged sums' digits back into slots and counts. The sparse
arrays stay: a group of a single row (each point of an hour series) reads them as stored.

The fold (``fold_rollups``) keeps the column with the arrays; this revision derives it for the
rows folded so far.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = """
UPDATE execution_rollups
SET latency_packed = (
    SELECT COALESCE(sum(u.n * weights.of_slot[u.slot]), 0)
    FROM unnest(latency_slots, latency_counts) AS u(slot, n))
FROM (  -- 10 ** (12 * slot) for slots 1..180, each built once from its digits
    SELECT array_agg(('1' || repeat('0', 12 * s))::numeric ORDER BY s) AS of_slot
    FROM generate_series(1, 180) AS s) AS weights
WHERE cardinality(latency_slots) > 0
"""


def upgrade() -> None:
    op.add_column(
        "execution_rollups",
        sa.Column("latency_packed", sa.Numeric(), server_default="0", nullable=False),
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_column("execution_rollups", "latency_packed")
