"""The outbox learns whom each event is about (`customer`) and carries purge rows:
erasing a customer deletes exactly her rows and purges her subjects from the stream
(servicekit.outbox, audit items 20 and 21).
"""

from alembic import op

from servicekit import outbox

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.execute(outbox.CUSTOMER_DDL)


def downgrade() -> None:
    op.execute(outbox.DROP_CUSTOMER_DDL)
