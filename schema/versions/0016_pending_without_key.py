"""The analytics queue without a key: each finishing write appends one heap row, nothing more.

``analytics_pending`` (0008) had its execution id as primary key, and the trigger
``analytics_enqueue`` inserted with ``ON CONFLICT DO NOTHING``: a speculative insert and a
B-tree entry on every execution's finishing write, about half of the trigger's time (the
analytics trigger was 3.7-3.8 % of an execution's two statements on a quiet machine, 2.0 %
without them; ``bench/analytics.py``). The key only kept out a second entry for an execution
finished again (a crashed server's row taken back to running, then finished) before a fold;
``fold_rollups`` now reads each pending id once (``DISTINCT``) and deletes every entry of the
ids it folds, so the answers are the same. Folds read the queue by a scan, as a reader's check
for its project already did (the queue stays small: readers and the worker fold it).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENQUEUE = """
CREATE OR REPLACE FUNCTION analytics_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_pending (execution_id, project_id)
    VALUES (NEW.execution_id, NEW.project_id){conflict};
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.drop_constraint("analytics_pending_pkey", "analytics_pending", type_="primary")
    op.execute(ENQUEUE.format(conflict=""))


def downgrade() -> None:
    op.execute(
        "DELETE FROM analytics_pending p USING analytics_pending q "
        "WHERE p.execution_id = q.execution_id AND p.ctid > q.ctid"
    )
    op.create_primary_key("analytics_pending_pkey", "analytics_pending", ["execution_id"])
    op.execute(ENQUEUE.format(conflict=" ON CONFLICT DO NOTHING"))
