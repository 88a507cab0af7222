"""Private events: places, invitations, answers with plus-ones, the waitlist, the door.

An invitation holds places while accepted or checked in: one for her and one per
plus-one (`party`). The places held never exceed the event's capacity:

* Accepting takes her party's places when they are free, else she joins the waitlist
  (keeping the time she joined, which is her turn).
* Declining (or bringing fewer guests) frees places, which go to the waitlist in turn:
  the first in line whose party fits the free places is promoted, then the next, and so
  on. A party too large for the places left is passed over this time and keeps its turn.
  No party ever overtakes one that fits.
* Bringing more guests than before is accepted only if the extra places are free; else
  refused (EVENT_FULL) and her acceptance stands as it was.
* Answers close when the event starts; check-in (accepted invitations only) opens
  `doors_open` before the start and closes at the end.

The database holds the same invariant on its own (a counter of places taken per event,
kept by a trigger from the invitations, with CHECK (places_taken <= capacity)), and the
service decides with the event row locked, so concurrent answers are decided one after
the other and can never overfill an event (storage.private_events).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from servicekit.errors import FailedPrecondition, Violations

MAX_CAPACITY = 10_000
MAX_PLUS_ONES = 10
MAX_INVITEES = 500


class InvitationState(StrEnum):
    INVITED = "invited"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WAITLISTED = "waitlisted"
    CHECKED_IN = "checked_in"


# The states that hold places.
HOLDING = frozenset({InvitationState.ACCEPTED, InvitationState.CHECKED_IN})


@dataclass(frozen=True)
class Places:
    capacity: int
    taken: int

    @property
    def free(self) -> int:
        return self.capacity - self.taken


@dataclass(frozen=True)
class Rsvp:
    """An invitation as the rules see it."""

    state: InvitationState
    plus_ones: int
    plus_ones_allowed: int

    @property
    def held(self) -> int:
        """Places it holds now."""
        return party(self.plus_ones) if self.state in HOLDING else 0


@dataclass(frozen=True)
class Answer:
    """The invitation after an answer: its state and plus-ones, and how many places it
    takes (positive) or frees (negative)."""

    state: InvitationState
    plus_ones: int
    places: int

    @property
    def joins_waitlist(self) -> bool:
        return self.state is InvitationState.WAITLISTED


@dataclass(frozen=True)
class Waiting:
    """One invitation on the waitlist, in turn order (its join time, then its id)."""

    invitation_id: str
    plus_ones: int


@dataclass(frozen=True)
class EventTimes:
    start: datetime
    end: datetime
    # Check-in opens this long before the start.
    doors_open: timedelta = timedelta(hours=2)


class EventFull(FailedPrecondition):
    reason = "EVENT_FULL"

    def __init__(self, wanted: int | None = None, free: int | None = None):
        if wanted is None or free is None:
            # The database refused it (events_within_capacity): the places went meanwhile.
            super().__init__("the places left do not allow it")
            return
        super().__init__(
            f"{wanted} more places are needed and {free} are free; the acceptance stands as it was",
            metadata={"places_wanted": str(wanted), "places_free": str(free)},
        )


class InvitationStateRefused(FailedPrecondition):
    reason = "INVITATION_STATE"

    def __init__(self, action: str, state: InvitationState):
        super().__init__(f"a {state.value} invitation cannot be {action}", metadata={"state": state.value})


class EventTimeRefused(FailedPrecondition):
    """An answer after the start, a check-in outside the doors' hours."""

    def __init__(self, reason: str, message: str):
        super().__init__(message, reason=reason)


def party(plus_ones: int) -> int:
    return 1 + plus_ones


def check_plus_ones(plus_ones: int, allowed: int, field_path: str = "plus_ones") -> None:
    violations = Violations()
    violations.require(plus_ones >= 0, field_path, "must not be negative")
    violations.require(plus_ones <= allowed, field_path, f"at most {allowed} for this invitation")
    violations.raise_if_any()


def accept(rsvp: Rsvp, plus_ones: int, places: Places, now: datetime, times: EventTimes) -> Answer:
    """Her acceptance (new, or with another number of guests) given the event's places."""
    _answers_open(now, times)
    if rsvp.state is InvitationState.CHECKED_IN:
        raise InvitationStateRefused("answered again", rsvp.state)
    check_plus_ones(plus_ones, rsvp.plus_ones_allowed)
    wanted = party(plus_ones)
    if rsvp.state is InvitationState.ACCEPTED:
        extra = wanted - rsvp.held
        if extra > places.free:
            raise EventFull(extra, places.free)
        return Answer(InvitationState.ACCEPTED, plus_ones, extra)
    if wanted <= places.free:
        return Answer(InvitationState.ACCEPTED, plus_ones, wanted)
    return Answer(InvitationState.WAITLISTED, plus_ones, 0)


def decline(rsvp: Rsvp, now: datetime, times: EventTimes) -> Answer:
    """Her refusal: frees what she held (the waitlist then gets it, `promotions`)."""
    _answers_open(now, times)
    if rsvp.state is InvitationState.CHECKED_IN:
        raise InvitationStateRefused("declined", rsvp.state)
    return Answer(InvitationState.DECLINED, rsvp.plus_ones, -rsvp.held)


def promotions(waitlist: Sequence[Waiting], free: int) -> list[Waiting]:
    """Who leaves the waitlist for the `free` places, in turn: each party that fits what
    is left, a larger one keeping its turn for later."""
    promoted: list[Waiting] = []
    for waiting in waitlist:
        if free <= 0:
            break
        if party(waiting.plus_ones) <= free:
            promoted.append(waiting)
            free -= party(waiting.plus_ones)
    return promoted


def check_in(rsvp: Rsvp, arrived_guests: int, now: datetime, times: EventTimes) -> InvitationState:
    if rsvp.state is not InvitationState.ACCEPTED:
        raise InvitationStateRefused("checked in", rsvp.state)
    if now < times.start - times.doors_open:
        raise EventTimeRefused("DOORS_NOT_OPEN", "the doors are not open yet")
    if now >= times.end:
        raise EventTimeRefused("EVENT_OVER", "the event is over")
    violations = Violations()
    violations.require(arrived_guests >= 0, "arrived_guests", "must not be negative")
    violations.require(arrived_guests <= rsvp.plus_ones, "arrived_guests", f"at most her {rsvp.plus_ones} plus-ones")
    violations.raise_if_any()
    return InvitationState.CHECKED_IN


def change_capacity(places: Places, capacity: int) -> Places:
    """A new capacity, never below the places taken (a larger one frees places for the
    waitlist)."""
    if capacity < places.taken:
        raise FailedPrecondition(
            f"{places.taken} places are taken; the capacity cannot go below that",
            reason="CAPACITY_BELOW_TAKEN",
            metadata={"places_taken": str(places.taken)},
        )
    check_capacity(capacity)
    return Places(capacity, places.taken)


def check_capacity(capacity: int, field_path: str = "capacity") -> None:
    violations = Violations()
    violations.require(1 <= capacity <= MAX_CAPACITY, field_path, f"must be between 1 and {MAX_CAPACITY}")
    violations.raise_if_any()


def _answers_open(now: datetime, times: EventTimes) -> None:
    if now >= times.start:
        raise EventTimeRefused("EVENT_STARTED", "answers closed when the event started")
