"""Follow-up tasks, the interaction log they and performance read, the attribution ledger
and its audited corrections.

Ids are bare (`paris`, not `stores/paris`), like the rest of the service's tables. Nothing
here references the store / associate / assignment tables by foreign key: those are a
sibling migration branch, and a task or ledger entry must survive whatever happens to them.
"""

from alembic import op

revision = "0501"
down_revision = "0001"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE tasks (
            id               text PRIMARY KEY,
            kind             smallint NOT NULL,
            -- The rule that made it ("manual" by hand) and what triggered it: together with
            -- the customer they identify the task, so a redelivered or replayed event
            -- cannot open a second one.
            rule             text NOT NULL,
            customer_id      text NOT NULL,
            trigger_key      text NOT NULL,
            trigger_event    text NOT NULL DEFAULT '',
            trigger_resource text NOT NULL DEFAULT '',
            -- '' while the task waits in the store's manager queue.
            associate_id     text NOT NULL DEFAULT '',
            store_id         text NOT NULL DEFAULT '',
            title            text NOT NULL DEFAULT '',
            channel          smallint NOT NULL DEFAULT 0,
            due_time         timestamptz NOT NULL,
            status           smallint NOT NULL DEFAULT 1,
            snooze_until     timestamptz,
            outcome_note     text NOT NULL DEFAULT '',
            complete_time    timestamptz,
            version          bigint NOT NULL DEFAULT 1,
            create_time      timestamptz NOT NULL DEFAULT now(),
            update_time      timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT tasks_one_per_trigger UNIQUE (rule, customer_id, trigger_key),
            CONSTRAINT tasks_status CHECK (status BETWEEN 1 AND 4)
        );
        -- Lists: an associate's, a store's, everything; soonest due first.
        CREATE INDEX tasks_associate_due ON tasks (associate_id, due_time, id);
        CREATE INDEX tasks_store_due ON tasks (store_id, due_time, id);
        CREATE INDEX tasks_due ON tasks (due_time, id);
        -- Hand-over and reply closing look up a customer's open tasks.
        CREATE INDEX tasks_customer_open ON tasks (customer_id) WHERE status IN (1, 3);

        -- What the task rules need of a customer: home store and important dates (for the
        -- yearly greeting sweep).
        CREATE TABLE task_customers (
            customer_id     text PRIMARY KEY,
            home_store      text NOT NULL DEFAULT '',
            important_dates jsonb NOT NULL DEFAULT '[]',
            update_time     timestamptz NOT NULL DEFAULT now()
        );

        -- Every interaction seen, written by both consumers (whichever comes first): reply
        -- tasks, the attribution window and reply times are computed from it.
        CREATE TABLE interaction_log (
            interaction  text PRIMARY KEY,
            customer_id  text NOT NULL,
            kind         smallint NOT NULL,
            direction    smallint NOT NULL DEFAULT 0,
            channel      smallint NOT NULL DEFAULT 0,
            store_id     text NOT NULL DEFAULT '',
            associate_id text NOT NULL DEFAULT '',
            occur_time   timestamptz NOT NULL
        );
        CREATE INDEX interaction_log_customer ON interaction_log (customer_id, occur_time);
        CREATE INDEX interaction_log_messages ON interaction_log (occur_time)
            WHERE kind = 1;

        -- One ledger entry per purchase; the unique purchase keeps a redelivered
        -- purchase_recorded from crediting twice.
        CREATE TABLE attributions (
            id               text PRIMARY KEY,
            purchase         text NOT NULL UNIQUE,
            customer_id      text NOT NULL,
            order_id         text NOT NULL DEFAULT '',
            channel          smallint NOT NULL,
            store_id         text NOT NULL DEFAULT '',
            currency         text NOT NULL DEFAULT '',
            amount           numeric(20, 9) NOT NULL DEFAULT 0,
            order_time       timestamptz NOT NULL,
            associate_id     text NOT NULL DEFAULT '',
            basis            smallint NOT NULL,
            customer_created boolean NOT NULL DEFAULT false,
            version          bigint NOT NULL DEFAULT 1,
            create_time      timestamptz NOT NULL DEFAULT now(),
            update_time      timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX attributions_associate ON attributions (associate_id, order_time);
        CREATE INDEX attributions_store ON attributions (store_id, order_time);
        CREATE INDEX attributions_page ON attributions (order_time DESC, id DESC);

        -- The audit of manual corrections: never updated, never deleted.
        CREATE TABLE attribution_corrections (
            id                 bigserial PRIMARY KEY,
            attribution_id     text NOT NULL REFERENCES attributions (id),
            previous_associate text NOT NULL,
            associate          text NOT NULL,
            reason             text NOT NULL,
            actor              text NOT NULL,
            correct_time       timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX attribution_corrections_entry ON attribution_corrections (attribution_id, id);
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP TABLE attribution_corrections; DROP TABLE attributions; DROP TABLE interaction_log; "
        "DROP TABLE task_customers; DROP TABLE tasks;"
    )
