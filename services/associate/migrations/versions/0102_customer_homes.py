"""The customers the service has heard of, with their home store: kept by the assignment
consumer in the same transaction as her placement, so access rules (transfers, claims,
tasks, the pool of a store) never depend on the client book's read model catching up.

A customer with a row here exists for this service; erasure, deletion and being merged
into another customer remove the row.
"""

from alembic import op

revision = "0102"
down_revision = "0101"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE customer_homes (
            customer_id  text PRIMARY KEY,
            -- `stores/{id}` as the customer events name it; '' when she has none.
            home_store   text NOT NULL DEFAULT '',
            update_time  timestamptz NOT NULL DEFAULT now()
        );
        -- The pool of one store (ListUnassigned for its manager).
        CREATE INDEX customer_homes_by_store ON customer_homes (home_store, customer_id);

        -- Everyone already known: the book's read model, then anyone placed without it.
        INSERT INTO customer_homes (customer_id, home_store)
        SELECT customer_id, home_store FROM book_customers
        ON CONFLICT DO NOTHING;
        INSERT INTO customer_homes (customer_id)
        SELECT customer_id FROM assignments UNION SELECT customer_id FROM hq_pool
        ON CONFLICT DO NOTHING;
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE customer_homes")
