"""The directory of stores and staff learnt from the associate service's events (who may
call, which home stores and referral codes exist), fingerprints of recorded orders and
interactions (a conflicting replay is refused), interaction external ids scoped to the
customer they were recorded for.
"""

from alembic import op

revision = "0501"
down_revision = "0303"


def upgrade() -> None:
    op.execute(
        """
        -- Stores that exist (store_created / store_updated); `change_time` is when the last
        -- applied event happened, so an older event arriving late changes nothing.
        CREATE TABLE directory_stores (
            store       text PRIMARY KEY,
            change_time timestamptz NOT NULL
        );

        -- Members of staff as the associate service last described them (associate_created /
        -- associate_updated / associate_departed): only what this service decides with, no
        -- display names. `referral_code` is normalised (upper case, no - or spaces).
        CREATE TABLE directory_associates (
            associate_id  text PRIMARY KEY,
            store         text NOT NULL DEFAULT '',
            role          text NOT NULL DEFAULT '',
            status        text NOT NULL DEFAULT '',
            referral_code text NOT NULL DEFAULT '',
            change_time   timestamptz NOT NULL
        );
        CREATE INDEX directory_associates_referral_code ON directory_associates (referral_code)
            WHERE referral_code <> '';

        -- A digest of the request that recorded the row: a replay with the same order id or
        -- external id and another body is refused. NULL for rows recorded before.
        ALTER TABLE purchases ADD COLUMN request_fingerprint text;
        ALTER TABLE interactions ADD COLUMN request_fingerprint text;

        -- An external id identifies a touchpoint of one customer: the same id recorded for
        -- another customer is another touchpoint, and never tells the caller of the first.
        ALTER TABLE interactions DROP CONSTRAINT interactions_external_unique;
        ALTER TABLE interactions ADD CONSTRAINT interactions_external_unique
            UNIQUE (customer_id, kind, channel, external_id);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE interactions DROP CONSTRAINT interactions_external_unique;
        ALTER TABLE interactions ADD CONSTRAINT interactions_external_unique UNIQUE (kind, channel, external_id);
        ALTER TABLE interactions DROP COLUMN request_fingerprint;
        ALTER TABLE purchases DROP COLUMN request_fingerprint;
        DROP TABLE directory_associates, directory_stores;
        """
    )
