"""Bookings against real PostgreSQL: the exclusion constraint makes a double booking
impossible (100 concurrent requests for one slot → exactly one booking, the rest
SLOT_TAKEN), buffers count on both sides, only active bookings hold time, and the
availability rules agree with the constraint."""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from servicekit.errors import Code
from services.appointments.domain.availability import Availability
from services.appointments.domain.bookings import AssortmentItem, SlotTaken
from services.appointments.storage import bookings
from services.appointments.storage.bookings import NewBooking
from tests.appointments.support import PARIS, bookable, local, period, store, utc, visit_type

DAY = date(2026, 5, 4)


async def _type(engine, type_id: str, before: int = 0, after: int = 0) -> str:
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO appointment_types (id, display_name, duration_minutes, buffer_before_minutes, "
                "buffer_after_minutes, horizon_minutes) VALUES (:id, 'Fitting', 60, :b, :a, 525600) "
                "ON CONFLICT DO NOTHING"
            ),
            {"id": type_id, "b": before, "a": after},
        )
    return type_id


def _new(associate: str, start, *, minutes: int = 60, before: int = 0, after: int = 0, kind: str = "fitting"):
    return NewBooking(
        id="b-" + secrets.token_hex(6),
        customer_id="c-" + secrets.token_hex(4),
        associate_id=associate,
        store_id="s-1",
        appointment_type_id=kind,
        start_time=start,
        end_time=start + timedelta(minutes=minutes),
        buffer_before_minutes=before,
        buffer_after_minutes=after,
        time_zone=PARIS,
        channel="web",
        host_choice="store",
        notes="",
    )


def _associate() -> str:
    return "a-" + secrets.token_hex(5)


@pytest.fixture(scope="module", autouse=True)
async def types(engine):
    await _type(engine, "fitting")


async def test_a_booking_round_trips(engine):
    new = _new(_associate(), local(PARIS, DAY, 10), before=15, after=10)
    async with engine.begin() as conn:
        stored = await bookings.insert(conn, new)
        again = await bookings.get(conn, new.id, lock=True)
    assert stored == again
    assert (stored.state, stored.sequence, stored.version) == ("booked", 0, 1)
    assert (stored.start_time, stored.end_time) == (new.start_time, new.end_time)
    assert (stored.buffer_before_minutes, stored.buffer_after_minutes) == (15, 10)
    async with engine.connect() as conn:
        assert await bookings.get(conn, "b-none") is None


async def test_one_hundred_concurrent_requests_for_one_slot_make_exactly_one_booking(engine, contenders):
    # 100 where the server can spare the connections (see conftest: `contenders`).
    associate, start = _associate(), local(PARIS, DAY, 11)
    barrier = asyncio.Barrier(contenders)

    async def contend(n: int):
        # Each contender holds an open transaction when all of them insert at once.
        async with engine.connect() as conn, conn.begin():
            await conn.execute(sa.text("SELECT 1"))
            await barrier.wait()
            try:
                return await bookings.insert(conn, _new(associate, start + timedelta(minutes=n % 3 * 10)))
            except SlotTaken as taken:
                return taken

    outcomes = await asyncio.gather(*(contend(n) for n in range(contenders)))
    booked = [o for o in outcomes if isinstance(o, bookings.BookingRow)]
    refused = [o for o in outcomes if isinstance(o, SlotTaken)]
    assert len(booked) == 1 and len(refused) == contenders - 1
    assert all(r.code is Code.ABORTED and r.reason == "SLOT_TAKEN" for r in refused)
    assert all(r.metadata["associate"] == f"associates/{associate}" for r in refused)
    async with engine.connect() as conn:
        count = await conn.scalar(
            sa.text("SELECT count(*) FROM bookings WHERE associate_id = :a AND state = 'booked'"), {"a": associate}
        )
    assert count == 1


async def test_buffers_of_both_bookings_keep_them_apart_touching_is_fine(engine):
    associate = _associate()
    async with engine.begin() as conn:
        # 10:00-11:00 with 15 minutes after it: holds until 11:15.
        await bookings.insert(conn, _new(associate, local(PARIS, DAY, 10), after=15))
        with pytest.raises(SlotTaken):
            await bookings.insert(conn, _new(associate, local(PARIS, DAY, 11, 10)))
        # With 10 minutes before it, 11:20 would hold from 11:10.
        with pytest.raises(SlotTaken):
            await bookings.insert(conn, _new(associate, local(PARIS, DAY, 11, 20), before=10))
        # The transaction is still usable after a refusal (each write runs in a savepoint).
        await bookings.insert(conn, _new(associate, local(PARIS, DAY, 11, 15)))
        await bookings.insert(conn, _new(associate, local(PARIS, DAY, 12, 25), before=10))
        # Another associate is not concerned.
        await bookings.insert(conn, _new(_associate(), local(PARIS, DAY, 10)))


async def test_only_active_bookings_hold_time(engine):
    associate = _associate()
    start = local(PARIS, DAY, 15)
    async with engine.begin() as conn:
        first = await bookings.insert(conn, _new(associate, start))
        checked_in = await bookings.set_state(conn, first.id, "checked_in", sequence=0, check_in_time=start)
        assert checked_in.check_in_time == start and checked_in.version == 2
        with pytest.raises(SlotTaken):
            await bookings.insert(conn, _new(associate, start))
        for ended in ("completed", "cancelled", "no_show"):
            await bookings.set_state(conn, first.id, ended, sequence=1, cancel_reason="r", cancel_time=start)
            again = await bookings.insert(conn, _new(associate, start))
            await bookings.set_state(conn, again.id, "cancelled", sequence=1, cancel_reason="test")
        await bookings.set_state(conn, first.id, "booked", sequence=0)
        with pytest.raises(SlotTaken):
            await bookings.insert(conn, _new(associate, start))


async def test_a_move_into_held_time_is_slot_taken_and_a_move_over_itself_is_fine(engine):
    associate = _associate()
    async with engine.begin() as conn:
        mine = await bookings.insert(conn, _new(associate, local(PARIS, DAY, 10)))
        await bookings.insert(conn, _new(associate, local(PARIS, DAY, 12)))
        later = local(PARIS, DAY, 10, 30)
        moved = await bookings.move(
            conn,
            mine.id,
            associate_id=associate,
            start_time=later,
            end_time=later + timedelta(hours=1),
            host_choice="requested",
            sequence=1,
            channel="phone",
        )
        assert (moved.start_time, moved.sequence, moved.channel, moved.version) == (later, 1, "phone", 2)
        clash = local(PARIS, DAY, 11, 30)
        with pytest.raises(SlotTaken) as taken:
            await bookings.move(
                conn,
                mine.id,
                associate_id=associate,
                start_time=clash,
                end_time=clash + timedelta(hours=1),
                host_choice="requested",
                sequence=2,
                channel="phone",
            )
        assert taken.value.metadata["start_time"] == "2026-05-04T09:30:00Z"
        assert (await bookings.get(conn, mine.id)) == moved


async def test_held_times_are_the_booking_spans_of_active_bookings_in_the_window(engine):
    one, two = _associate(), _associate()
    async with engine.begin() as conn:
        a = await bookings.insert(conn, _new(one, local(PARIS, DAY, 10), before=15, after=5))
        b = await bookings.insert(conn, _new(two, local(PARIS, DAY, 14)))
        c = await bookings.insert(conn, _new(two, local(PARIS, DAY, 16)))
        await bookings.set_state(conn, c.id, "cancelled", sequence=1, cancel_reason="x")
        await bookings.insert(conn, _new(one, local(PARIS, DAY + timedelta(days=3), 10)))
        busy = await bookings.held(conn, [one, two], local(PARIS, DAY, 0), local(PARIS, DAY, 23))
    assert [(x.booking_id, x.associate_id, x.span.start, x.span.end) for x in sorted(busy, key=lambda x: x.span)] == [
        (a.id, one, local(PARIS, DAY, 9, 45), local(PARIS, DAY, 11, 5)),
        (b.id, two, local(PARIS, DAY, 14), local(PARIS, DAY, 15)),
    ]


async def test_the_availability_rules_and_the_constraint_agree(engine):
    """Random bookings, then random grid starts: a start availability offers (over the
    held times read back from the database) is one the database accepts, and a start it
    does not offer for held time is one the database refuses."""
    rng = random.Random(4)
    kind = visit_type(45, before=10, after=20, step=15)
    associate = _associate()
    await _type(engine, "agree", before=10, after=20)
    hours = store(PARIS, (period("09:00", "21:00"),))
    async with engine.begin() as conn:
        for _ in range(6):
            start = local(PARIS, DAY, 9) + timedelta(minutes=15 * rng.randrange(0, 44))
            with contextlib.suppress(SlotTaken):  # some of them overlap: fine, fewer bookings
                await bookings.insert(conn, _new(associate, start, minutes=45, before=10, after=20, kind="agree"))
        busy = await bookings.held(conn, [associate], local(PARIS, DAY, 0), local(PARIS, DAY + timedelta(days=1), 0))
        where = Availability(hours, kind, [bookable(associate)], busy, utc(2026, 1, 1))
        agreed = 0
        for minutes in range(0, 12 * 60 - 45, 15):
            start = local(PARIS, DAY, 9) + timedelta(minutes=minutes)
            if start < local(PARIS, DAY, 10) or start + timedelta(minutes=45) > local(PARIS, DAY, 19):
                continue  # outside her hours: availability's business, not the constraint's
            offered = where.free_at(start) == (associate,)
            try:
                async with conn.begin_nested() as probe:
                    await bookings.insert(conn, _new(associate, start, minutes=45, before=10, after=20, kind="agree"))
                    await probe.rollback()
                accepted = True
            except SlotTaken:
                accepted = False
            assert offered == accepted, start
            agreed += 1
    assert agreed > 20


async def test_assortment_and_attention(engine):
    associate = _associate()
    async with engine.begin() as conn:
        mine = await bookings.insert(conn, _new(associate, local(PARIS, DAY, 17)))
        items = [AssortmentItem("SKU-1", "Panthère ring", "52", "rose gold"), AssortmentItem("SKU-2")]
        dressed = await bookings.set_assortment(conn, mine.id, items)
        assert dressed.items == items and dressed.version == 2
        since = utc(2026, 5, 1, 12)
        marked = await bookings.set_attention(conn, mine.id, "host_departed", "a-7 left", since)
        again = await bookings.set_attention(conn, mine.id, "host_departed", "still", utc(2026, 5, 2))
        assert (marked.attention_reason, marked.attention_since) == ("host_departed", since)
        assert again.attention_since == since
        cleared = await bookings.set_attention(conn, mine.id, "", "", utc(2026, 5, 3))
        assert (cleared.attention_reason, cleared.attention_since) == ("", None)
