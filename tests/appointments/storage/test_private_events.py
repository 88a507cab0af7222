"""Private events against real PostgreSQL: 200 concurrent acceptances for 50 places give
exactly 50 accepted and the rest waitlisted in turn, never one place over; the database
holds the capacity even for a writer that skips the event lock; declines promote the
waitlist in turn."""

from __future__ import annotations

import asyncio
import random
import secrets
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.appointments.domain import private_events as rules
from services.appointments.domain.private_events import EventFull, EventTimes, InvitationState, Rsvp
from services.appointments.storage import private_events as store
from services.appointments.storage.private_events import NewEvent, NewInvitation
from tests.appointments.support import utc

START = utc(2026, 6, 12, 17)
TIMES = EventTimes(START, START + timedelta(hours=4))
NOW = utc(2026, 6, 1, 9)


async def _event(engine, capacity: int, guests: int, plus_ones_allowed: int = 0) -> tuple[str, list[str]]:
    event_id = "e-" + secrets.token_hex(5)
    async with engine.begin() as conn:
        await store.insert_event(
            conn,
            NewEvent(
                id=event_id,
                title="Haute joaillerie",
                kind="private_viewing",
                description="",
                store_id="s-1",
                venue="",
                start_time=TIMES.start,
                end_time=TIMES.end,
                time_zone="Europe/Paris",
                capacity=capacity,
                plus_ones_allowed=plus_ones_allowed,
                hosts=["a-1"],
            ),
        )
        invited = await store.invite(
            conn,
            event_id,
            [NewInvitation(f"i-{n:03d}", f"c-{n:03d}", "a-1", plus_ones_allowed) for n in range(guests)],
        )
    return event_id, [i.id for i in invited]


async def _respond(engine, event_id: str, invitation_id: str, accept: bool, plus_ones: int = 0):
    """What the RespondToInvitation use case does: lock the event, read her invitation,
    decide, write, promote the waitlist if places were freed."""
    async with engine.begin() as conn:
        event = await store.lock(conn, event_id)
        assert event is not None
        mine = await store.get_invitation(conn, event_id, invitation_id, lock=True)
        assert mine is not None
        rsvp = Rsvp(InvitationState(mine.state), mine.plus_ones, mine.plus_ones_allowed)
        answer = rules.accept(rsvp, plus_ones, event.places, NOW, TIMES) if accept else rules.decline(rsvp, NOW, TIMES)
        row = await store.answer(
            conn, event_id, invitation_id, state=answer.state.value, plus_ones=answer.plus_ones, channel="web", at=NOW
        )
        promoted = []
        if answer.places < 0:
            free = event.places.free - answer.places
            promoted = await store.promote(
                conn, event_id, [w.invitation_id for w in rules.promotions(await store.waitlist(conn, event_id), free)]
            )
        return row, promoted


async def _position(conn, event_id: str, invitation_id: str) -> int:
    found = await store.get_invitation(conn, event_id, invitation_id)
    assert found is not None
    return found.waitlist_position


async def _counts(engine, event_id: str) -> tuple[dict[str, int], int, int]:
    async with engine.connect() as conn:
        states = dict(
            (
                await conn.execute(
                    sa.text("SELECT state, count(*) FROM invitations WHERE event_id = :e GROUP BY state"),
                    {"e": event_id},
                )
            ).all()
        )
        held = await conn.scalar(
            sa.text(
                "SELECT COALESCE(sum(1 + plus_ones), 0) FROM invitations "
                "WHERE event_id = :e AND state IN ('accepted', 'checked_in')"
            ),
            {"e": event_id},
        )
        event = await store.get_event(conn, event_id)
    assert event is not None
    return states, int(held), event.places_taken


async def test_two_hundred_concurrent_acceptances_for_fifty_places(engine):
    event_id, invitations = await _event(engine, capacity=50, guests=200)
    rows = await asyncio.gather(*(_respond(engine, event_id, i, True) for i in invitations))
    states, held, taken = await _counts(engine, event_id)
    assert states == {"accepted": 50, "waitlisted": 150}
    assert held == taken == 50
    waitlisted = sorted((r for r, _ in rows if r.state == "waitlisted"), key=lambda r: (r.waitlist_time, r.id))
    async with engine.connect() as conn:
        positions = [await _position(conn, event_id, r.id) for r in waitlisted]
    assert positions == list(range(1, 151))


async def test_two_hundred_concurrent_parties_never_take_a_place_too_many(engine):
    event_id, invitations = await _event(engine, capacity=50, guests=200, plus_ones_allowed=2)
    rng = random.Random(7)
    await asyncio.gather(*(_respond(engine, event_id, i, True, rng.randint(0, 2)) for i in invitations))
    states, held, taken = await _counts(engine, event_id)
    assert held == taken <= 50
    assert states["accepted"] + states["waitlisted"] == 200
    assert taken >= 48  # only a party larger than the last free places stays out


async def test_the_database_holds_the_capacity_for_a_writer_that_skips_the_lock(engine):
    """Two hundred blind acceptances (no event lock, no decision): the trigger and the
    CHECK let exactly fifty through."""
    event_id, invitations = await _event(engine, capacity=50, guests=200)

    async def blind(invitation_id: str):
        async with engine.begin() as conn:
            try:
                return await store.answer(
                    conn, event_id, invitation_id, state="accepted", plus_ones=0, channel="store", at=NOW
                )
            except EventFull as full:
                return full

    outcomes = await asyncio.gather(*(blind(i) for i in invitations))
    refused = [o for o in outcomes if isinstance(o, EventFull)]
    assert len(refused) == 150 and all(r.reason == "EVENT_FULL" for r in refused)
    states, held, taken = await _counts(engine, event_id)
    assert states == {"accepted": 50, "invited": 150}
    assert held == taken == 50


async def test_a_decline_promotes_the_waitlist_in_turn_passing_over_a_party_too_large(engine):
    event_id, invitations = await _event(engine, capacity=4, guests=6, plus_ones_allowed=2)
    first, second, big, small, last, _ = invitations
    await _respond(engine, event_id, first, True, 1)  # 2 places
    await _respond(engine, event_id, second, True, 1)  # 4: full
    assert (await _respond(engine, event_id, big, True, 2))[0].state == "waitlisted"  # needs 3
    assert (await _respond(engine, event_id, small, True, 0))[0].state == "waitlisted"
    assert (await _respond(engine, event_id, last, True, 0))[0].state == "waitlisted"
    async with engine.connect() as conn:
        assert [w.invitation_id for w in await store.waitlist(conn, event_id)] == [big, small, last]
        assert await _position(conn, event_id, small) == 2
    # `first` declines: 2 places free; `big` (3) keeps its turn, `small` and `last` go in.
    row, promoted = await _respond(engine, event_id, first, False)
    assert row.state == "declined"
    assert [(p.id, p.state, p.waitlist_time) for p in promoted] == [(small, "accepted", None), (last, "accepted", None)]
    async with engine.connect() as conn:
        (still,) = await store.waitlist(conn, event_id)
        assert still.invitation_id == big
        assert await _position(conn, event_id, big) == 1
    _, held, taken = await _counts(engine, event_id)
    assert held == taken == 4


async def test_a_waitlisted_guest_keeps_her_turn_when_she_answers_again(engine):
    event_id, invitations = await _event(engine, capacity=1, guests=3, plus_ones_allowed=1)
    await _respond(engine, event_id, invitations[0], True)
    joined, _ = await _respond(engine, event_id, invitations[1], True, 1)
    await _respond(engine, event_id, invitations[2], True)
    again, _ = await _respond(engine, event_id, invitations[1], True, 0)
    assert again.state == "waitlisted" and again.waitlist_time == joined.waitlist_time
    assert again.waitlist_position == 1


async def test_places_follow_every_change_of_an_invitation(engine):
    event_id, invitations = await _event(engine, capacity=10, guests=3, plus_ones_allowed=2)
    await _respond(engine, event_id, invitations[0], True, 2)
    await _respond(engine, event_id, invitations[1], True, 1)
    assert (await _counts(engine, event_id))[2] == 5
    await _respond(engine, event_id, invitations[0], True, 0)  # fewer guests
    assert (await _counts(engine, event_id))[2] == 3
    async with engine.begin() as conn:
        came = await store.check_in(conn, event_id, invitations[1], 1, START)
        assert (came.state, came.arrived_guests, came.check_in_time) == ("checked_in", 1, START)
    assert (await _counts(engine, event_id))[2] == 3  # a guest who came keeps her places
    async with engine.begin() as conn:  # erasure removes her invitation: her places go
        await conn.execute(sa.text("DELETE FROM invitations WHERE id = :i"), {"i": invitations[0]})
    assert (await _counts(engine, event_id))[2] == 2


async def test_inviting_twice_keeps_the_first_invitation(engine):
    event_id, invitations = await _event(engine, capacity=10, guests=2)
    async with engine.begin() as conn:
        again = await store.invite(
            conn, event_id, [NewInvitation("i-new", "c-001", "a-2", 3), NewInvitation("i-new2", "c-009", "a-2", 1)]
        )
    assert [(i.id, i.customer_id, i.associate_id) for i in again] == [
        (invitations[1], "c-001", "a-1"),
        ("i-new2", "c-009", "a-2"),
    ]


async def test_the_table_refuses_impossible_invitations(engine):
    event_id, invitations = await _event(engine, capacity=10, guests=1, plus_ones_allowed=1)
    for statement in (
        "UPDATE invitations SET plus_ones = 2 WHERE id = :i",  # more than allowed
        "UPDATE invitations SET state = 'waitlisted' WHERE id = :i",  # waitlisted without a turn
        "UPDATE events SET capacity = 0 WHERE id = :e",
    ):
        async with engine.begin() as conn:
            with pytest.raises(IntegrityError):
                await conn.execute(sa.text(statement), {"i": invitations[0], "e": event_id})
