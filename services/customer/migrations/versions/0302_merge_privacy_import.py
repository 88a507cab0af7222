"""Bulk import bookkeeping, merges and redirects, the personal-data audit trail."""

from alembic import op

from servicekit import audit

revision = "0302"
down_revision = "0001"


def upgrade() -> None:
    op.execute(
        """
        -- One row per applied batch of an import: re-sending the batch finds it and
        -- changes nothing; its outcome is kept so the answer is the same the second time.
        CREATE TABLE import_batches (
            import_id     text NOT NULL,
            batch_id      text NOT NULL,
            accepted      integer NOT NULL,
            merged        integer NOT NULL,
            rejected_rows jsonb NOT NULL,
            actor         text NOT NULL,
            applied_at    timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (import_id, batch_id)
        );

        -- The audit record of a merge and everything needed to undo it: the duplicate's
        -- row as it was, the keys of the rows that moved, the survivor's fields the merge
        -- filled or extended. `seq` orders merges for the "a later merge depends on it" rule.
        CREATE TABLE merges (
            id           text PRIMARY KEY,
            seq          bigserial NOT NULL UNIQUE,
            survivor_id  text NOT NULL,
            duplicate_id text NOT NULL,
            actor        text NOT NULL,
            moved        jsonb NOT NULL,
            create_time  timestamptz NOT NULL DEFAULT now(),
            undo_time    timestamptz,
            undo_actor   text NOT NULL DEFAULT ''
        );
        CREATE INDEX merges_active_survivor ON merges (survivor_id, seq) WHERE undo_time IS NULL;
        CREATE INDEX merges_active_duplicate ON merges (duplicate_id, seq) WHERE undo_time IS NULL;

        -- A merged-away customer's id keeps answering, with the survivor.
        CREATE TABLE customer_redirects (
            duplicate_id text PRIMARY KEY,
            survivor_id  text NOT NULL,
            merge_id     text NOT NULL REFERENCES merges (id)
        );
        CREATE INDEX customer_redirects_survivor ON customer_redirects (survivor_id);

        -- Who erased whom, when and on what grounds (the profile itself is gone).
        CREATE TABLE erasures (
            customer_id text PRIMARY KEY,
            actor       text NOT NULL,
            reason      text NOT NULL,
            erase_time  timestamptz NOT NULL DEFAULT now()
        );
        """
    )
    # Reads of personal data (GetCustomer, ExportCustomer, ListTimeline), append-only.
    op.execute(audit.DDL)


def downgrade() -> None:
    op.execute(audit.DROP_DDL)
    op.execute("DROP TABLE erasures, customer_redirects, merges, import_batches")
