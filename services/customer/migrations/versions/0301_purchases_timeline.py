"""Purchases and returns, derived purchase figures, computed tags, interactions.

Every table carries `customer_id`, so moving a customer's rows (merge) or removing them
(erasure) is one statement per table.
"""

from alembic import op

revision = "0301"
down_revision = "0001"


def upgrade() -> None:
    op.execute(
        """
        -- The order id is unique per channel: a replayed POS or e-commerce order is
        -- refused by the database, not by a prior SELECT.
        CREATE TABLE purchases (
            id                  text PRIMARY KEY,
            customer_id         text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
            channel             smallint NOT NULL,
            order_id            text NOT NULL,
            store               text NOT NULL DEFAULT '',
            assisting_associate text NOT NULL DEFAULT '',
            currency            char(3) NOT NULL,
            gross               numeric(28, 9) NOT NULL CHECK (gross >= 0),
            returned            numeric(28, 9) NOT NULL DEFAULT 0 CHECK (returned BETWEEN 0 AND gross),
            order_time          timestamptz NOT NULL,
            create_time         timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT purchases_order_unique UNIQUE (channel, order_id)
        );
        CREATE INDEX purchases_customer ON purchases (customer_id, order_time DESC, id DESC);

        CREATE TABLE purchase_lines (
            purchase_id       text NOT NULL REFERENCES purchases (id) ON DELETE CASCADE,
            customer_id       text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
            line_id           text NOT NULL,
            position          integer NOT NULL,
            sku               text NOT NULL,
            product_name      text NOT NULL DEFAULT '',
            category          text NOT NULL DEFAULT '',
            quantity          integer NOT NULL CHECK (quantity > 0),
            unit_price        numeric(28, 9) NOT NULL CHECK (unit_price >= 0),
            -- Returns can never exceed what was bought, whatever the application does.
            returned_quantity integer NOT NULL DEFAULT 0 CHECK (returned_quantity BETWEEN 0 AND quantity),
            PRIMARY KEY (purchase_id, line_id)
        );
        CREATE INDEX purchase_lines_customer ON purchase_lines (customer_id);

        CREATE TABLE purchase_returns (
            purchase_id text NOT NULL REFERENCES purchases (id) ON DELETE CASCADE,
            customer_id text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
            return_id   text NOT NULL,
            amount      numeric(28, 9) NOT NULL CHECK (amount >= 0),
            return_time timestamptz NOT NULL,
            create_time timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (purchase_id, return_id)
        );
        CREATE INDEX purchase_returns_customer ON purchase_returns (customer_id);

        CREATE TABLE return_lines (
            purchase_id text NOT NULL,
            customer_id text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
            return_id   text NOT NULL,
            line_id     text NOT NULL,
            quantity    integer NOT NULL CHECK (quantity > 0),
            PRIMARY KEY (purchase_id, return_id, line_id),
            FOREIGN KEY (purchase_id, return_id) REFERENCES purchase_returns ON DELETE CASCADE,
            FOREIGN KEY (purchase_id, line_id) REFERENCES purchase_lines ON DELETE CASCADE
        );
        CREATE INDEX return_lines_customer ON return_lines (customer_id);

        -- Kept current in the transaction of each purchase and return, so reading a
        -- customer never scans her purchases. Net of returns.
        CREATE TABLE customer_purchase_stats (
            customer_id         text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
            currency            char(3) NOT NULL,
            lifetime_value      numeric(28, 9) NOT NULL DEFAULT 0,
            order_count         integer NOT NULL DEFAULT 0,
            first_purchase_time timestamptz NOT NULL,
            last_purchase_time  timestamptz NOT NULL,
            -- category → net spend in this currency
            category_spend      jsonb NOT NULL DEFAULT '{}',
            PRIMARY KEY (customer_id, currency)
        );

        -- Fact-based computed tags (VIP, affinity), re-evaluated when the facts change.
        CREATE TABLE customer_computed_tags (
            customer_id text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
            tag         text NOT NULL,
            reason      text NOT NULL,
            since       timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (customer_id, tag)
        );
        CREATE INDEX customer_computed_tags_tag ON customer_computed_tags (tag, customer_id);

        -- A replayed webhook (same source id for the same kind and channel) is refused by
        -- the constraint; interactions without a source id (NULL) never collide.
        CREATE TABLE interactions (
            id            text PRIMARY KEY,
            customer_id   text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
            kind          smallint NOT NULL,
            channel       smallint NOT NULL DEFAULT 0,
            direction     smallint NOT NULL DEFAULT 0,
            preview       text NOT NULL DEFAULT '',
            store         text NOT NULL DEFAULT '',
            associate     text NOT NULL DEFAULT '',
            referral_code text NOT NULL DEFAULT '',
            reference     text NOT NULL DEFAULT '',
            external_id   text,
            occur_time    timestamptz NOT NULL,
            create_time   timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT interactions_external_unique UNIQUE (kind, channel, external_id)
        );
        CREATE INDEX interactions_customer ON interactions (customer_id, occur_time DESC, id DESC);

        -- The timeline pages consent changes by time too.
        CREATE INDEX consent_changes_timeline ON consent_changes (customer_id, change_time DESC, id DESC);
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP INDEX consent_changes_timeline; "
        "DROP TABLE interactions, customer_computed_tags, customer_purchase_stats, return_lines, "
        "purchase_returns, purchase_lines, purchases"
    )
