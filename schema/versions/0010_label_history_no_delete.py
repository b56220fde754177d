"""Label history is append-only for DELETE and TRUNCATE too, except an explicit purge.

Revision 0002's trigger refused UPDATE only: a DELETE of history rows went through. Now UPDATE,
DELETE and TRUNCATE are refused, unless the transaction declares a purge first:

    BEGIN;
    SET LOCAL promptledger.purge = 'label_history';
    DELETE FROM projects WHERE project_id = '...';   -- cascades to its prompts and history
    COMMIT;

(docs/architecture.md, "Versions and labels"). UPDATE is refused even then: a purge removes
history, it never rewrites it.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURGE_SETTING = "promptledger.purge"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION label_history_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('DELETE', 'TRUNCATE')
               AND current_setting('{PURGE_SETTING}', true) = 'label_history' THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION 'label_history is append-only: % refused', TG_OP
                USING HINT = 'a purge sets {PURGE_SETTING} = ''label_history'' in its '
                             'transaction (SET LOCAL) first';
        END; $$;
        CREATE TRIGGER label_history_no_delete BEFORE DELETE ON label_history
        FOR EACH ROW EXECUTE FUNCTION label_history_append_only();
        CREATE TRIGGER label_history_no_truncate BEFORE TRUNCATE ON label_history
        FOR EACH STATEMENT EXECUTE FUNCTION label_history_append_only();
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER label_history_no_truncate ON label_history")
    op.execute("DROP TRIGGER label_history_no_delete ON label_history")
    op.execute(
        """
        CREATE OR REPLACE FUNCTION label_history_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'label_history is append-only'; END; $$;
        """
    )
