"""Who holds each customer, learnt from the associate service's assignment_changed events
(the customer service never reads the associate service's tables).
"""

from alembic import op

revision = "0401"
down_revision = "0001"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE customer_assignments (
            customer_id   text NOT NULL,
            associate_id  text NOT NULL,
            -- 1 = primary, 2 = secondary (atelier.events.v1.AssignmentRole).
            role          smallint NOT NULL CHECK (role IN (1, 2)),
            update_time   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (customer_id, associate_id)
        );
        CREATE UNIQUE INDEX customer_assignments_one_primary ON customer_assignments (customer_id) WHERE role = 1;
        -- An associate's list and search: EXISTS on (associate, customer).
        CREATE INDEX customer_assignments_by_associate ON customer_assignments (associate_id, customer_id);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE customer_assignments")
