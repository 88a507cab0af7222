"""The tables servicekit needs (outbox, inbox, idempotency keys) and `people`, the one
table of the test service.

Revision ID: 0001
Revises:
"""

from alembic import op

from servicekit import idempotency, outbox

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.execute(outbox.DDL)
    op.execute(idempotency.DDL)
    # Constraints the test service can violate on purpose (database errors carrying
    # personal data in their messages).
    op.execute(
        """
        CREATE TABLE people (
            id          text PRIMARY KEY,
            given_name  text NOT NULL,
            email       text NOT NULL UNIQUE,
            phone       text NOT NULL CHECK (phone = '' OR phone LIKE '+%'),
            birthday    date
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE people")
    op.execute("DROP TABLE idempotency_keys")
    op.execute(outbox.DROP_DDL)
