"""Outbox (with the customer each event is about, for erasure), inbox and idempotency
keys: the shared plumbing every service starts with.
"""

from alembic import op

from servicekit import idempotency, outbox

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.execute(idempotency.DDL)
    op.execute(outbox.DDL)
    op.execute(outbox.CUSTOMER_DDL)


def downgrade() -> None:
    op.execute(outbox.DROP_CUSTOMER_DDL)
    op.execute(outbox.DROP_DDL)
    op.execute("DROP TABLE idempotency_keys")
