"""A booking's life: booked → checked in → completed; cancelled, no-show; reschedule;
assortment; each refusal typed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from servicekit.errors import Code, InvalidArgument
from services.appointments.domain import bookings
from services.appointments.domain.bookings import (
    AssortmentItem,
    SlotTaken,
    SlotUnavailable,
    State,
    TransitionRefused,
    Visit,
    VisitPolicy,
    WrongTime,
)
from tests.appointments.support import utc, visit_type

START = utc(2026, 5, 4, 8)
END = START + timedelta(hours=1)
BOOKED = Visit(State.BOOKED, START, END)


def visit(state: State, sequence: int = 0) -> Visit:
    return Visit(state, START, END, sequence)


def test_check_in_opens_an_hour_before_and_closes_at_the_end():
    assert bookings.check_in(BOOKED, START - timedelta(hours=1)) is State.CHECKED_IN
    assert bookings.check_in(BOOKED, END - timedelta(seconds=1)) is State.CHECKED_IN
    with pytest.raises(WrongTime) as early:
        bookings.check_in(BOOKED, START - timedelta(minutes=61))
    assert early.value.reason == "CHECK_IN_NOT_OPEN"
    assert early.value.metadata == {"allowed_from_or_until": "2026-05-04T07:00:00Z"}
    with pytest.raises(WrongTime) as late:
        bookings.check_in(BOOKED, END)
    assert late.value.reason == "VISIT_OVER"
    assert bookings.check_in(BOOKED, START - timedelta(hours=2), VisitPolicy(check_in_opens=timedelta(hours=3)))


def test_complete_after_check_in_only():
    assert bookings.complete(visit(State.CHECKED_IN)) is State.COMPLETED
    with pytest.raises(TransitionRefused) as refused:
        bookings.complete(BOOKED)
    assert refused.value.code is Code.FAILED_PRECONDITION
    assert refused.value.reason == "BOOKING_STATE"
    assert refused.value.metadata == {"state": "booked", "action": "completed"}


def test_cancel_with_a_reason_before_the_end_moves_the_sequence():
    assert bookings.cancel(visit(State.BOOKED, 2), START + timedelta(minutes=5), "unwell") == (State.CANCELLED, 3)
    with pytest.raises(InvalidArgument) as no_reason:
        bookings.cancel(BOOKED, START, "  ")
    assert no_reason.value.violations == [("reason", "is required")]
    with pytest.raises(WrongTime) as over:
        bookings.cancel(BOOKED, END, "late")
    assert over.value.reason == "VISIT_OVER"


def test_no_show_from_fifteen_minutes_after_the_start():
    assert bookings.mark_no_show(BOOKED, START + timedelta(minutes=15)) is State.NO_SHOW
    with pytest.raises(WrongTime) as early:
        bookings.mark_no_show(BOOKED, START + timedelta(minutes=14))
    assert early.value.reason == "NO_SHOW_TOO_EARLY"
    with pytest.raises(TransitionRefused):
        bookings.mark_no_show(visit(State.CHECKED_IN), END)


@pytest.mark.parametrize("state", [State.COMPLETED, State.CANCELLED, State.NO_SHOW])
def test_ended_bookings_refuse_every_step(state):
    ended = visit(state)
    later = END + timedelta(hours=1)
    for step in (
        lambda: bookings.check_in(ended, START),
        lambda: bookings.complete(ended),
        lambda: bookings.cancel(ended, START, "x"),
        lambda: bookings.mark_no_show(ended, later),
        lambda: bookings.reschedule(ended, START - timedelta(days=1), START + timedelta(days=1), visit_type()),
        lambda: bookings.set_assortment(ended, []),
        lambda: bookings.change_host(ended),
    ):
        with pytest.raises(TransitionRefused):
            step()


def test_reschedule_before_the_start_within_lead_time_and_horizon():
    kind = visit_type(60, lead=timedelta(hours=2), horizon=timedelta(days=30))
    now = START - timedelta(days=1)
    moved = bookings.reschedule(visit(State.BOOKED, 1), now, START + timedelta(days=2), kind)
    assert moved == Visit(State.BOOKED, START + timedelta(days=2), END + timedelta(days=2), 2)
    with pytest.raises(WrongTime) as soon:
        bookings.reschedule(BOOKED, now, now + timedelta(hours=1), kind)
    assert soon.value.reason == "INSIDE_LEAD_TIME"
    with pytest.raises(WrongTime) as far:
        bookings.reschedule(BOOKED, now, now + timedelta(days=31), kind)
    assert far.value.reason == "BEYOND_HORIZON"
    with pytest.raises(WrongTime) as started:
        bookings.reschedule(BOOKED, START, START + timedelta(days=1), kind)
    assert started.value.reason == "VISIT_STARTED"
    with pytest.raises(TransitionRefused):
        bookings.reschedule(visit(State.CHECKED_IN), now, START + timedelta(days=1), kind)


def test_check_bookable_bounds_are_inclusive():
    kind = visit_type(60, lead=timedelta(hours=2), horizon=timedelta(days=30))
    now = utc(2026, 5, 1, 8)
    bookings.check_bookable(now + timedelta(hours=2), now, kind)
    bookings.check_bookable(now + timedelta(days=30), now, kind)
    assert bookings.end_of(now, kind) == now + timedelta(hours=1)


def test_a_change_of_host_moves_the_sequence():
    assert bookings.change_host(visit(State.BOOKED, 4)).sequence == 5


def test_assortment_while_booked_or_under_way():
    items = [AssortmentItem("SKU-1", "Panthère ring", "52"), AssortmentItem("SKU-2")]
    assert bookings.set_assortment(BOOKED, items) == tuple(items)
    assert bookings.set_assortment(visit(State.CHECKED_IN), []) == ()
    with pytest.raises(InvalidArgument) as bad:
        bookings.set_assortment(BOOKED, [AssortmentItem(" ")] + [AssortmentItem("S")] * 50)
    assert bad.value.violations == [("items", "at most 50 pieces"), ("items[0].sku", "is required")]


def test_slot_taken_is_aborted_with_suggestions():
    taken = SlotTaken("a-1", START)
    assert (taken.code, taken.reason) == (Code.ABORTED, "SLOT_TAKEN")
    assert taken.metadata == {"associate": "associates/a-1", "start_time": "2026-05-04T08:00:00Z"}
    suggested = taken.suggesting([START + timedelta(minutes=30), START + timedelta(hours=1)])
    assert suggested.metadata["next_free_slots"] == "2026-05-04T08:30:00Z,2026-05-04T09:00:00Z"
    assert suggested.reason == "SLOT_TAKEN"
    unavailable = SlotUnavailable(START)
    assert (unavailable.code, unavailable.reason) == (Code.FAILED_PRECONDITION, "SLOT_UNAVAILABLE")


def test_active_states_are_the_ones_holding_time():
    assert {State.BOOKED, State.CHECKED_IN} == bookings.ACTIVE
