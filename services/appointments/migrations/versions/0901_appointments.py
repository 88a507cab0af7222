"""Appointment types, schedules and their exceptions, bookings that can never overlap,
private events whose places can never be overfilled, and their invitations.

* Bookings: two active bookings (booked, checked_in) of one associate never hold
  overlapping time, buffers included. The time a booking holds is
  `booking_span(start, end, buffer_before, buffer_after)` = [start - before, end + after);
  the exclusion constraint `bookings_no_overlap` compares those spans with && (touching
  spans do not overlap). An index expression must be IMMUTABLE and `timestamptz -
  interval` is only STABLE in general (days and months depend on the session time
  zone); the buffers are whole minutes, and moving an instant by minutes does not depend
  on any time zone, so `booking_span` is declared IMMUTABLE truthfully. A second
  booking over held time fails with SQLSTATE 23P01 on that constraint, which
  storage.bookings turns into SLOT_TAKEN: a double booking is impossible by
  construction, whatever the code above does.
* Events: `places_taken` is kept by a trigger from the invitations themselves (each
  accepted or checked-in invitation holds 1 + plus_ones places) and `events_within_capacity`
  CHECKs it against `capacity`, so the database never holds an overfilled event. The
  service decides each answer with the event row locked (storage.private_events.lock),
  so concurrent answers are decided one after the other and an acceptance that no longer
  fits joins the waitlist instead of failing.
"""

from alembic import op

revision = "0901"
down_revision = "0001"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute(
        """
        CREATE TABLE appointment_types (
            id                     text PRIMARY KEY,
            display_name           text NOT NULL,
            description            text NOT NULL DEFAULT '',
            duration_minutes       integer NOT NULL CHECK (duration_minutes BETWEEN 5 AND 480),
            buffer_before_minutes  integer NOT NULL DEFAULT 0 CHECK (buffer_before_minutes BETWEEN 0 AND 240),
            buffer_after_minutes   integer NOT NULL DEFAULT 0 CHECK (buffer_after_minutes BETWEEN 0 AND 240),
            lead_minutes           integer NOT NULL DEFAULT 0 CHECK (lead_minutes >= 0),
            horizon_minutes        integer NOT NULL CHECK (horizon_minutes > 0),
            slot_minutes           integer NOT NULL DEFAULT 30
                                   CHECK (slot_minutes BETWEEN 5 AND 240 AND 1440 % slot_minutes = 0),
            specialities           text[] NOT NULL DEFAULT '{}',
            -- Store ids it is offered in; every store when empty.
            stores                 text[] NOT NULL DEFAULT '{}',
            archived               boolean NOT NULL DEFAULT false,
            version                bigint NOT NULL DEFAULT 1,
            create_time            timestamptz NOT NULL DEFAULT now(),
            update_time            timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX appointment_types_page ON appointment_types (display_name, id);

        -- An associate's weekly hours: [{"day": 1..7, "start": minutes, "end": minutes}]
        -- on her store's wall clock. No row: no hours set yet.
        CREATE TABLE schedules (
            associate_id  text PRIMARY KEY,
            weekly_hours  jsonb NOT NULL DEFAULT '[]',
            version       bigint NOT NULL DEFAULT 1,
            update_time   timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE schedule_exceptions (
            id            text PRIMARY KEY,
            associate_id  text NOT NULL,
            kind          text NOT NULL CHECK (kind IN ('unavailable', 'available')),
            first_date    date NOT NULL,
            last_date     date NOT NULL CHECK (last_date >= first_date),
            -- The part of each date, in minutes since midnight; both NULL: whole days.
            start_minute  integer CHECK (start_minute BETWEEN 0 AND 1439),
            end_minute    integer CHECK (end_minute BETWEEN 1 AND 1440),
            reason        text NOT NULL DEFAULT '',
            create_time   timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT schedule_exceptions_period CHECK (
                (start_minute IS NULL AND end_minute IS NULL AND kind = 'unavailable')
                OR (start_minute IS NOT NULL AND end_minute IS NOT NULL AND start_minute < end_minute)
            )
        );
        -- The exceptions of an associate reaching a date range (availability, listing).
        CREATE INDEX schedule_exceptions_reach ON schedule_exceptions (associate_id, last_date, first_date);

        CREATE FUNCTION booking_span(
            start_time timestamptz, end_time timestamptz, before_minutes integer, after_minutes integer
        ) RETURNS tstzrange LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT tstzrange(
                start_time - make_interval(mins => before_minutes),
                end_time + make_interval(mins => after_minutes),
                '[)'
            )
        $$;

        CREATE TABLE bookings (
            id                     text PRIMARY KEY,
            customer_id            text NOT NULL,
            associate_id           text NOT NULL,
            store_id               text NOT NULL,
            appointment_type_id    text NOT NULL REFERENCES appointment_types (id),
            start_time             timestamptz NOT NULL,
            end_time               timestamptz NOT NULL,
            -- The type's buffers when booked (a later change of the type leaves it as booked).
            buffer_before_minutes  integer NOT NULL DEFAULT 0 CHECK (buffer_before_minutes >= 0),
            buffer_after_minutes   integer NOT NULL DEFAULT 0 CHECK (buffer_after_minutes >= 0),
            time_zone              text NOT NULL,
            channel                text NOT NULL CHECK (channel IN ('web', 'wechat', 'store', 'phone')),
            state                  text NOT NULL DEFAULT 'booked'
                                   CHECK (state IN ('booked', 'checked_in', 'completed', 'cancelled', 'no_show')),
            host_choice            text NOT NULL
                                   CHECK (host_choice IN ('requested', 'own_associate', 'store', 'reassigned')),
            notes                  text NOT NULL DEFAULT '',
            -- [{"sku", "product_name", "size", "note"}]
            assortment             jsonb NOT NULL DEFAULT '[]',
            cancel_reason          text NOT NULL DEFAULT '',
            -- Why a manager must act on it ('' when nothing is wrong).
            attention_reason       text NOT NULL DEFAULT ''
                                   CHECK (attention_reason IN ('', 'host_departed', 'host_unavailable')),
            attention_detail       text NOT NULL DEFAULT '',
            attention_since        timestamptz,
            -- The iCalendar SEQUENCE of its invitation.
            sequence               integer NOT NULL DEFAULT 0,
            version                bigint NOT NULL DEFAULT 1,
            create_time            timestamptz NOT NULL DEFAULT now(),
            update_time            timestamptz NOT NULL DEFAULT now(),
            check_in_time          timestamptz,
            complete_time          timestamptz,
            cancel_time            timestamptz,
            CONSTRAINT bookings_time_order CHECK (end_time > start_time),
            CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
                associate_id WITH =,
                booking_span(start_time, end_time, buffer_before_minutes, buffer_after_minutes) WITH &&
            ) WHERE (state IN ('booked', 'checked_in'))
        );
        CREATE INDEX bookings_associate_time ON bookings (associate_id, start_time, id);
        CREATE INDEX bookings_store_time ON bookings (store_id, start_time, id);
        CREATE INDEX bookings_customer_time ON bookings (customer_id, start_time, id);
        CREATE INDEX bookings_attention ON bookings (store_id, start_time, id)
            WHERE attention_reason <> '' AND state = 'booked';

        CREATE TABLE events (
            id                 text PRIMARY KEY,
            title              text NOT NULL,
            kind               text NOT NULL
                               CHECK (kind IN ('private_viewing', 'exhibition', 'master_class', 'other')),
            description        text NOT NULL DEFAULT '',
            store_id           text NOT NULL,
            venue              text NOT NULL DEFAULT '',
            start_time         timestamptz NOT NULL,
            end_time           timestamptz NOT NULL,
            time_zone          text NOT NULL,
            capacity           integer NOT NULL CHECK (capacity BETWEEN 1 AND 10000),
            -- Kept by the invitations_places trigger; never written by the service.
            places_taken       integer NOT NULL DEFAULT 0 CHECK (places_taken >= 0),
            plus_ones_allowed  integer NOT NULL DEFAULT 0 CHECK (plus_ones_allowed BETWEEN 0 AND 10),
            hosts              text[] NOT NULL DEFAULT '{}',
            version            bigint NOT NULL DEFAULT 1,
            create_time        timestamptz NOT NULL DEFAULT now(),
            update_time        timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT events_time_order CHECK (end_time > start_time),
            CONSTRAINT events_within_capacity CHECK (places_taken <= capacity)
        );
        CREATE INDEX events_store_time ON events (store_id, start_time, id);
        CREATE INDEX events_time ON events (start_time, id);

        -- `events/{event}/invitations/{invitation}`: ids are unique within their event.
        CREATE TABLE invitations (
            event_id           text NOT NULL REFERENCES events (id),
            id                 text NOT NULL,
            customer_id        text NOT NULL,
            -- Who invited her.
            associate_id       text NOT NULL DEFAULT '',
            state              text NOT NULL DEFAULT 'invited'
                               CHECK (state IN ('invited', 'accepted', 'declined', 'waitlisted', 'checked_in')),
            plus_ones_allowed  integer NOT NULL CHECK (plus_ones_allowed BETWEEN 0 AND 10),
            plus_ones          integer NOT NULL DEFAULT 0,
            -- When she joined the waitlist: her turn. Set exactly while waitlisted.
            waitlist_time      timestamptz,
            response_channel   text NOT NULL DEFAULT ''
                               CHECK (response_channel IN ('', 'web', 'wechat', 'store', 'phone')),
            arrived_guests     integer NOT NULL DEFAULT 0,
            version            bigint NOT NULL DEFAULT 1,
            invite_time        timestamptz NOT NULL DEFAULT now(),
            response_time      timestamptz,
            check_in_time      timestamptz,
            PRIMARY KEY (event_id, id),
            CONSTRAINT invitations_one_per_customer UNIQUE (event_id, customer_id),
            CONSTRAINT invitations_plus_ones CHECK (plus_ones BETWEEN 0 AND plus_ones_allowed),
            CONSTRAINT invitations_arrived CHECK (arrived_guests BETWEEN 0 AND plus_ones),
            CONSTRAINT invitations_waitlist_turn CHECK ((state = 'waitlisted') = (waitlist_time IS NOT NULL))
        );
        CREATE INDEX invitations_list ON invitations (event_id, invite_time, id);
        CREATE INDEX invitations_waitlist ON invitations (event_id, waitlist_time, id) WHERE state = 'waitlisted';
        CREATE INDEX invitations_customer ON invitations (customer_id);

        -- Places held by an invitation: 1 + plus_ones while accepted or checked in.
        CREATE FUNCTION invitation_places(state text, plus_ones integer) RETURNS integer
            LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT CASE WHEN state IN ('accepted', 'checked_in') THEN 1 + plus_ones ELSE 0 END
        $$;

        -- Every change of an invitation moves its event's places_taken by what it holds
        -- more or less; the UPDATE of the event row serialises writers of one event and
        -- events_within_capacity refuses a change that would overfill it.
        CREATE FUNCTION invitations_places() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            held_before integer := 0;
            held_after integer := 0;
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                held_before := invitation_places(OLD.state, OLD.plus_ones);
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                held_after := invitation_places(NEW.state, NEW.plus_ones);
            END IF;
            IF TG_OP = 'UPDATE' AND OLD.event_id = NEW.event_id THEN
                IF held_after <> held_before THEN
                    UPDATE events SET places_taken = places_taken + held_after - held_before WHERE id = NEW.event_id;
                END IF;
                RETURN NULL;
            END IF;
            IF held_before <> 0 THEN
                UPDATE events SET places_taken = places_taken - held_before WHERE id = OLD.event_id;
            END IF;
            IF held_after <> 0 THEN
                UPDATE events SET places_taken = places_taken + held_after WHERE id = NEW.event_id;
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER invitations_places AFTER INSERT OR UPDATE OR DELETE ON invitations
            FOR EACH ROW EXECUTE FUNCTION invitations_places();
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE invitations;
        DROP FUNCTION invitations_places();
        DROP FUNCTION invitation_places(text, integer);
        DROP TABLE events;
        DROP TABLE bookings;
        DROP FUNCTION booking_span(timestamptz, timestamptz, integer, integer);
        DROP TABLE schedule_exceptions;
        DROP TABLE schedules;
        DROP TABLE appointment_types;
        """
    )
