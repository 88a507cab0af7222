"""Stores, associates, customer assignments with history, claims, hand-over jobs and the
client book read model.
"""

from alembic import op

revision = "0101"
down_revision = "0001"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE stores (
            id            text PRIMARY KEY,
            code          text NOT NULL,
            display_name  text NOT NULL,
            time_zone     text NOT NULL,
            region        text NOT NULL DEFAULT '',
            weekly_hours  jsonb NOT NULL DEFAULT '[]',
            exceptions    jsonb NOT NULL DEFAULT '[]',
            version       integer NOT NULL DEFAULT 1,
            create_time   timestamptz NOT NULL DEFAULT now(),
            update_time   timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT stores_code_unique UNIQUE (code)
        );

        CREATE TABLE associates (
            id             text PRIMARY KEY,
            store_id       text NOT NULL REFERENCES stores (id),
            display_name   text NOT NULL,
            role           smallint NOT NULL CHECK (role BETWEEN 1 AND 3),
            status         smallint NOT NULL CHECK (status BETWEEN 1 AND 3),
            languages      text[] NOT NULL DEFAULT '{}',
            specialities   text[] NOT NULL DEFAULT '{}',
            capacity       integer NOT NULL CHECK (capacity >= 0),
            referral_code  text NOT NULL,
            -- Customers held as primary, maintained with every assignment change so the
            -- least-loaded rule never counts rows.
            book_size      integer NOT NULL DEFAULT 0 CHECK (book_size >= 0),
            version        integer NOT NULL DEFAULT 1,
            create_time    timestamptz NOT NULL DEFAULT now(),
            update_time    timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT associates_referral_code_unique UNIQUE (referral_code)
        );
        CREATE INDEX associates_by_store ON associates (store_id, status, role);

        -- Current holders: role 1 = primary (at most one per customer), 2 = secondary.
        CREATE TABLE assignments (
            customer_id   text NOT NULL,
            associate_id  text NOT NULL REFERENCES associates (id),
            role          smallint NOT NULL CHECK (role IN (1, 2)),
            reason        smallint NOT NULL,
            since         timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (customer_id, associate_id)
        );
        CREATE UNIQUE INDEX assignments_one_primary ON assignments (customer_id) WHERE role = 1;
        CREATE INDEX assignments_by_associate ON assignments (associate_id, role, customer_id);

        -- Customers without a primary associate, waiting for a manager (the HQ pool).
        CREATE TABLE hq_pool (
            customer_id  text PRIMARY KEY,
            reason       smallint NOT NULL,
            since        timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX hq_pool_by_age ON hq_pool (since, customer_id);

        CREATE TABLE assignment_history (
            id                  bigserial PRIMARY KEY,
            customer_id         text NOT NULL,
            role                smallint NOT NULL,
            previous_associate  text NOT NULL DEFAULT '',
            associate           text NOT NULL DEFAULT '',
            reason              smallint NOT NULL,
            note                text NOT NULL DEFAULT '',
            actor               text NOT NULL,
            change_time         timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX assignment_history_by_customer ON assignment_history (customer_id, id DESC);

        CREATE TABLE claims (
            id             text PRIMARY KEY,
            customer_id    text NOT NULL,
            associate_id   text NOT NULL REFERENCES associates (id),
            reason         text NOT NULL,
            state          smallint NOT NULL DEFAULT 1,
            decision_note  text NOT NULL DEFAULT '',
            decided_by     text NOT NULL DEFAULT '',
            create_time    timestamptz NOT NULL DEFAULT now(),
            decide_time    timestamptz
        );
        CREATE UNIQUE INDEX claims_one_pending ON claims (customer_id, associate_id) WHERE state = 1;
        CREATE INDEX claims_by_time ON claims (create_time, id);

        -- One hand-over per departure; progress is committed with each chunk.
        CREATE TABLE hand_overs (
            id             text PRIMARY KEY,
            associate_id   text NOT NULL REFERENCES associates (id),
            successor_id   text REFERENCES associates (id),
            store_id       text NOT NULL,
            state          smallint NOT NULL DEFAULT 1,
            moved          integer NOT NULL DEFAULT 0,
            actor          text NOT NULL,
            create_time    timestamptz NOT NULL DEFAULT now(),
            done_time      timestamptz,
            CONSTRAINT hand_overs_one_per_associate UNIQUE (associate_id)
        );
        CREATE INDEX hand_overs_running ON hand_overs (create_time) WHERE state = 1;

        -- The client book's read model, kept from customer events.
        CREATE TABLE book_customers (
            customer_id            text PRIMARY KEY,
            given_name             text NOT NULL DEFAULT '',
            family_name            text NOT NULL DEFAULT '',
            preferred_name         text NOT NULL DEFAULT '',
            home_store             text NOT NULL DEFAULT '',
            tier                   smallint NOT NULL DEFAULT 0,
            tags                   text[] NOT NULL DEFAULT '{}',
            last_purchase_time     timestamptz,
            last_purchase_total    numeric(20, 9),
            last_purchase_currency text NOT NULL DEFAULT '',
            lifetime_value         numeric(20, 9) NOT NULL DEFAULT 0,
            currency               text NOT NULL DEFAULT '',
            order_count            integer NOT NULL DEFAULT 0,
            other_currency_orders  integer NOT NULL DEFAULT 0,
            last_contact_time      timestamptz,
            -- Filled by the appointments service's events once they exist.
            upcoming_appointment_time timestamptz,
            update_time            timestamptz NOT NULL DEFAULT now()
        );
        -- Purchases already counted, so a replayed order (new event id) is not added twice.
        CREATE TABLE book_purchases (
            purchase     text PRIMARY KEY,
            customer_id  text NOT NULL
        );
        CREATE INDEX book_purchases_by_customer ON book_purchases (customer_id);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE book_purchases;
        DROP TABLE book_customers;
        DROP TABLE hand_overs;
        DROP TABLE claims;
        DROP TABLE assignment_history;
        DROP TABLE hq_pool;
        DROP TABLE assignments;
        DROP TABLE associates;
        DROP TABLE stores;
        """
    )
