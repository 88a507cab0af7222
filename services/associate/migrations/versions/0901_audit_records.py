"""The personal-data read audit trail of this service (servicekit.audit): exports of a
customer's data and client books, like the customer service's reads."""

from alembic import op

from servicekit import audit

revision = "0901"
down_revision = "0801"


def upgrade() -> None:
    op.execute(audit.DDL)


def downgrade() -> None:
    op.execute(audit.DROP_DDL)
