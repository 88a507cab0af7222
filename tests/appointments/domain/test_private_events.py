"""Private events: places held by accepted parties never exceed the capacity; the
waitlist is promoted in turn as places free up; check-in at the door."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from servicekit.errors import FailedPrecondition, InvalidArgument
from services.appointments.domain import private_events as ev
from services.appointments.domain.private_events import (
    Answer,
    EventFull,
    EventTimeRefused,
    EventTimes,
    InvitationState,
    InvitationStateRefused,
    Places,
    Rsvp,
    Waiting,
)
from tests.appointments.support import utc

TIMES = EventTimes(utc(2026, 6, 12, 17), utc(2026, 6, 12, 21))
BEFORE = utc(2026, 6, 1, 9)
INVITED = Rsvp(InvitationState.INVITED, 0, 2)


def test_accepting_takes_her_party_or_joins_the_waitlist():
    assert ev.accept(INVITED, 2, Places(10, 7), BEFORE, TIMES) == Answer(InvitationState.ACCEPTED, 2, 3)
    waitlisted = ev.accept(INVITED, 2, Places(10, 8), BEFORE, TIMES)
    assert waitlisted == Answer(InvitationState.WAITLISTED, 2, 0)
    assert waitlisted.joins_waitlist
    # A declined invitation may accept again.
    declined = Rsvp(InvitationState.DECLINED, 1, 2)
    assert ev.accept(declined, 0, Places(10, 9), BEFORE, TIMES).state is InvitationState.ACCEPTED


def test_plus_ones_are_bounded_by_the_invitation():
    with pytest.raises(InvalidArgument) as too_many:
        ev.accept(INVITED, 3, Places(10, 0), BEFORE, TIMES)
    assert too_many.value.violations == [("plus_ones", "at most 2 for this invitation")]
    with pytest.raises(InvalidArgument):
        ev.accept(INVITED, -1, Places(10, 0), BEFORE, TIMES)


def test_changing_the_party_of_an_acceptance():
    accepted = Rsvp(InvitationState.ACCEPTED, 1, 2)
    assert accepted.held == 2
    assert ev.accept(accepted, 0, Places(10, 10), BEFORE, TIMES) == Answer(InvitationState.ACCEPTED, 0, -1)
    assert ev.accept(accepted, 2, Places(10, 9), BEFORE, TIMES) == Answer(InvitationState.ACCEPTED, 2, 1)
    with pytest.raises(EventFull) as full:
        ev.accept(accepted, 2, Places(10, 10), BEFORE, TIMES)
    assert full.value.reason == "EVENT_FULL"
    assert full.value.metadata == {"places_wanted": "1", "places_free": "0"}


def test_declining_frees_what_she_held():
    assert ev.decline(Rsvp(InvitationState.ACCEPTED, 2, 2), BEFORE, TIMES) == Answer(InvitationState.DECLINED, 2, -3)
    assert ev.decline(Rsvp(InvitationState.WAITLISTED, 2, 2), BEFORE, TIMES).places == 0
    assert ev.decline(INVITED, BEFORE, TIMES).places == 0


def test_answers_close_when_the_event_starts():
    for answer in (
        lambda: ev.accept(INVITED, 0, Places(10, 0), TIMES.start, TIMES),
        lambda: ev.decline(INVITED, TIMES.start, TIMES),
    ):
        with pytest.raises(EventTimeRefused) as closed:
            answer()
        assert closed.value.reason == "EVENT_STARTED"


def test_a_guest_who_came_cannot_answer_again():
    came = Rsvp(InvitationState.CHECKED_IN, 1, 2)
    with pytest.raises(InvitationStateRefused):
        ev.accept(came, 0, Places(10, 2), BEFORE, TIMES)
    with pytest.raises(InvitationStateRefused):
        ev.decline(came, BEFORE, TIMES)


def test_promotions_in_turn_a_party_too_large_keeps_its_turn():
    line = [Waiting("w-1", 2), Waiting("w-2", 0), Waiting("w-3", 1), Waiting("w-4", 0)]
    # Two places: w-1 needs three (passed over, keeps its turn); w-2 takes one, w-3 needs two (too many now), w-4 takes one.
    assert [w.invitation_id for w in ev.promotions(line, 2)] == ["w-2", "w-4"]
    assert [w.invitation_id for w in ev.promotions(line, 3)] == ["w-1"]
    assert [w.invitation_id for w in ev.promotions(line, 10)] == ["w-1", "w-2", "w-3", "w-4"]
    assert ev.promotions(line, 0) == []


def test_a_simulated_evening_never_exceeds_the_capacity():
    """Random answers of 120 guests for 50 places, promotions after each freeing answer:
    the places held never exceed the capacity and match the accepted parties; nobody on
    the waitlist fits the free places after a promotion round."""
    rng = random.Random(9)
    capacity = 50
    rsvps = {f"i-{n}": Rsvp(InvitationState.INVITED, 0, 2) for n in range(120)}
    waitlist: list[str] = []
    taken = 0
    for _ in range(1000):
        key = rng.choice(list(rsvps))
        rsvp = rsvps[key]
        if rng.random() < 0.7:
            plus_ones = rng.randint(0, 2)
            try:
                answer = ev.accept(rsvp, plus_ones, Places(capacity, taken), BEFORE, TIMES)
            except EventFull:
                continue
        else:
            answer = ev.decline(rsvp, BEFORE, TIMES)
        taken += answer.places
        rsvps[key] = Rsvp(answer.state, answer.plus_ones, 2)
        if key in waitlist and answer.state is not InvitationState.WAITLISTED:
            waitlist.remove(key)
        if answer.joins_waitlist and key not in waitlist:
            waitlist.append(key)
        line = [Waiting(k, rsvps[k].plus_ones) for k in waitlist]
        for promoted in ev.promotions(line, capacity - taken):
            waitlist.remove(promoted.invitation_id)
            rsvps[promoted.invitation_id] = Rsvp(InvitationState.ACCEPTED, promoted.plus_ones, 2)
            taken += ev.party(promoted.plus_ones)
        assert 0 <= taken <= capacity
        assert taken == sum(r.held for r in rsvps.values())
        assert all(ev.party(rsvps[k].plus_ones) > capacity - taken for k in waitlist)


def test_check_in_for_accepted_guests_while_the_doors_are_open():
    accepted = Rsvp(InvitationState.ACCEPTED, 2, 2)
    assert ev.check_in(accepted, 1, TIMES.start - timedelta(hours=2), TIMES) is InvitationState.CHECKED_IN
    with pytest.raises(EventTimeRefused) as early:
        ev.check_in(accepted, 0, TIMES.start - timedelta(hours=3), TIMES)
    assert early.value.reason == "DOORS_NOT_OPEN"
    with pytest.raises(EventTimeRefused) as over:
        ev.check_in(accepted, 0, TIMES.end, TIMES)
    assert over.value.reason == "EVENT_OVER"
    with pytest.raises(InvalidArgument):
        ev.check_in(accepted, 3, TIMES.start, TIMES)
    for state in (
        InvitationState.INVITED,
        InvitationState.WAITLISTED,
        InvitationState.DECLINED,
        InvitationState.CHECKED_IN,
    ):
        with pytest.raises(InvitationStateRefused):
            ev.check_in(Rsvp(state, 0, 2), 0, TIMES.start, TIMES)


def test_capacity_changes():
    assert ev.change_capacity(Places(50, 40), 60) == Places(60, 40)
    assert ev.change_capacity(Places(50, 40), 40).free == 0
    with pytest.raises(FailedPrecondition) as below:
        ev.change_capacity(Places(50, 40), 39)
    assert below.value.reason == "CAPACITY_BELOW_TAKEN"
    with pytest.raises(InvalidArgument):
        ev.check_capacity(0)
