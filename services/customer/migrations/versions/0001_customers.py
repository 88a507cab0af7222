"""Customers, contact points, consent history, notes, idempotency keys, outbox and inbox.

Revision ID: 0001
Revises:
"""

from alembic import op

from servicekit import idempotency, outbox

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        """
        CREATE TABLE customers (
            id              text PRIMARY KEY,
            given_name      text NOT NULL DEFAULT '',
            family_name     text NOT NULL DEFAULT '',
            preferred_name  text NOT NULL DEFAULT '',
            locale          text NOT NULL DEFAULT '',
            home_store      text NOT NULL DEFAULT '',
            tier            smallint NOT NULL DEFAULT 0,
            referral_code   text NOT NULL DEFAULT '',
            preferences     jsonb NOT NULL DEFAULT '[]',
            important_dates jsonb NOT NULL DEFAULT '[]',
            tags            text[] NOT NULL DEFAULT '{}',
            search_text     text NOT NULL DEFAULT '',
            version         bigint NOT NULL DEFAULT 1,
            create_time     timestamptz NOT NULL DEFAULT now(),
            update_time     timestamptz NOT NULL DEFAULT now()
        );
        -- Keyset paging, overall and per store (the scope of associates and managers).
        CREATE INDEX customers_page ON customers (create_time, id);
        CREATE INDEX customers_store_page ON customers (home_store, create_time, id);
        CREATE INDEX customers_tags ON customers USING gin (tags);
        CREATE INDEX customers_search ON customers USING gin (search_text gin_trgm_ops);

        -- One owner per normalised contact point: the database, not a prior SELECT,
        -- keeps two customers from sharing a phone or an e-mail.
        CREATE TABLE contact_points (
            customer_id text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
            kind        smallint NOT NULL,
            value       text NOT NULL,
            is_primary  boolean NOT NULL DEFAULT false,
            position    smallint NOT NULL,
            CONSTRAINT contact_points_unique UNIQUE (kind, value)
        );
        CREATE INDEX contact_points_customer ON contact_points (customer_id, position);

        -- Consent is evidence: every change is kept; the current answer is the latest row
        -- per channel and purpose.
        CREATE TABLE consent_changes (
            id          bigserial PRIMARY KEY,
            customer_id text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
            channel     smallint NOT NULL,
            purpose     smallint NOT NULL,
            granted     boolean NOT NULL,
            source      text NOT NULL,
            actor       text NOT NULL,
            change_time timestamptz NOT NULL DEFAULT clock_timestamp()
        );
        CREATE INDEX consent_changes_current
            ON consent_changes (customer_id, channel, purpose, id DESC);

        CREATE TABLE notes (
            id          text PRIMARY KEY,
            customer_id text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
            text        text NOT NULL,
            author      text NOT NULL,
            create_time timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX notes_customer ON notes (customer_id, create_time DESC, id DESC);

        """
    )
    op.execute(idempotency.DDL)
    op.execute(outbox.DDL)


def downgrade() -> None:
    op.execute(outbox.DROP_DDL)
    op.execute("DROP TABLE idempotency_keys, notes, consent_changes, contact_points, customers")
