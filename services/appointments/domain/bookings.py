"""A booking's life and what each step requires.

    booked ──check_in──► checked_in ──complete──► completed
      │  ╲
      │   ╲──cancel──► cancelled       (before the visit ends; a reason is required)
      │
      └──mark_no_show──► no_show       (from `no_show_after` past the start)

    reschedule: booked → booked, before the visit starts, to a start that respects the
    type's lead time and horizon; each reschedule, change of host and cancellation moves
    the iCalendar SEQUENCE on by one.

Check-in opens `check_in_opens` before the start and closes when the visit would have
ended. The assortment can be set while the visit is booked or under way. Every refusal
is a typed error (servicekit.errors, so the edge gives it a status and a reason): a step
the state does not allow is BOOKING_STATE, a step at the wrong time names what is wrong.
The rules take times as arguments (`now`), never read a clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from servicekit.errors import Aborted, FailedPrecondition, Violations

from .appointment_types import AppointmentType


class State(StrEnum):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


# The states that hold their time (the WHERE of the bookings table's exclusion constraint).
ACTIVE = frozenset({State.BOOKED, State.CHECKED_IN})
MAX_REASON = 500
MAX_NOTES = 2000
MAX_ASSORTMENT = 50


@dataclass(frozen=True)
class VisitPolicy:
    # Check-in opens this long before the start (and closes at the end).
    check_in_opens: timedelta = timedelta(hours=1)
    # A booked visit may be marked a no-show this long after its start.
    no_show_after: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Visit:
    """What the rules need of a booking."""

    state: State
    start: datetime
    end: datetime
    sequence: int = 0


@dataclass(frozen=True)
class AssortmentItem:
    sku: str
    product_name: str = ""
    size: str = ""
    note: str = ""


# ---------------------------------------------------------------- errors


class SlotTaken(Aborted):
    """Another active booking of the associate holds part of the time (the exclusion
    constraint said so): list the slots again. `next_free_slots` suggests starts."""

    reason = "SLOT_TAKEN"

    def __init__(self, associate_id: str, start: datetime, next_free: Sequence[datetime] = ()):
        metadata = {"associate": f"associates/{associate_id}", "start_time": _rfc3339(start)}
        if next_free:
            metadata["next_free_slots"] = ",".join(_rfc3339(s) for s in next_free)
        super().__init__(f"associates/{associate_id} is no longer free at {_rfc3339(start)}", metadata=metadata)
        self.associate_id = associate_id
        self.start = start
        self.next_free = tuple(next_free)

    def suggesting(self, next_free: Sequence[datetime]) -> SlotTaken:
        """The same refusal, with the next free starts to offer instead."""
        return SlotTaken(self.associate_id, self.start, next_free)


class TransitionRefused(FailedPrecondition):
    reason = "BOOKING_STATE"

    def __init__(self, action: str, state: State):
        super().__init__(
            f"a {state.value} booking cannot be {action}", metadata={"state": state.value, "action": action}
        )


class WrongTime(FailedPrecondition):
    """A step at a time the rules do not allow; the reason says which rule."""

    def __init__(self, reason: str, message: str, when: datetime):
        super().__init__(message, reason=reason, metadata={"allowed_from_or_until": _rfc3339(when)})


class SlotUnavailable(FailedPrecondition):
    reason = "SLOT_UNAVAILABLE"

    def __init__(self, start: datetime):
        super().__init__(
            f"{_rfc3339(start)} is not an available slot (hours, schedules or the grid); list the available slots",
            metadata={"start_time": _rfc3339(start)},
        )


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------- steps


def end_of(start: datetime, appointment_type: AppointmentType) -> datetime:
    return start + appointment_type.duration


def check_bookable(start: datetime, now: datetime, appointment_type: AppointmentType) -> None:
    """A new (or moved) visit starts no sooner than the lead time and no later than the
    horizon, counted from now."""
    earliest = now + appointment_type.minimum_lead_time
    if start < earliest:
        raise WrongTime("INSIDE_LEAD_TIME", "the visit starts too soon for this appointment type", earliest)
    latest = now + appointment_type.booking_horizon
    if start > latest:
        raise WrongTime("BEYOND_HORIZON", "the visit is too far ahead for this appointment type", latest)


def check_in(visit: Visit, now: datetime, policy: VisitPolicy = VisitPolicy()) -> State:
    _require(visit, State.BOOKED, "checked in")
    opens = visit.start - policy.check_in_opens
    if now < opens:
        raise WrongTime("CHECK_IN_NOT_OPEN", "check-in has not opened yet", opens)
    if now >= visit.end:
        raise WrongTime("VISIT_OVER", "the visit's time is over; mark it a no-show instead", visit.end)
    return State.CHECKED_IN


def complete(visit: Visit) -> State:
    _require(visit, State.CHECKED_IN, "completed")
    return State.COMPLETED


def cancel(visit: Visit, now: datetime, reason: str) -> tuple[State, int]:
    """The state and iCalendar sequence after a cancellation."""
    _require(visit, State.BOOKED, "cancelled")
    if now >= visit.end:
        raise WrongTime("VISIT_OVER", "the visit's time is over; mark it a no-show instead", visit.end)
    check_reason(reason)
    return State.CANCELLED, visit.sequence + 1


def mark_no_show(visit: Visit, now: datetime, policy: VisitPolicy = VisitPolicy()) -> State:
    _require(visit, State.BOOKED, "marked a no-show")
    allowed = visit.start + policy.no_show_after
    if now < allowed:
        raise WrongTime("NO_SHOW_TOO_EARLY", "she may still come", allowed)
    return State.NO_SHOW


def reschedule(visit: Visit, now: datetime, start: datetime, appointment_type: AppointmentType) -> Visit:
    """The visit moved to `start` (same type): still booked, one sequence further. The
    new time must still be offered (availability) and free (the database)."""
    _require(visit, State.BOOKED, "rescheduled")
    if now >= visit.start:
        raise WrongTime("VISIT_STARTED", "the visit has started; cancel it or mark a no-show", visit.start)
    check_bookable(start, now, appointment_type)
    return Visit(State.BOOKED, start, end_of(start, appointment_type), visit.sequence + 1)


def change_host(visit: Visit) -> Visit:
    """Another associate takes the visit (e.g. hers left): one sequence further."""
    _require(visit, State.BOOKED, "given another host")
    return Visit(visit.state, visit.start, visit.end, visit.sequence + 1)


def set_assortment(visit: Visit, items: Sequence[AssortmentItem]) -> tuple[AssortmentItem, ...]:
    if visit.state not in ACTIVE:
        raise TransitionRefused("given an assortment", visit.state)
    violations = Violations()
    violations.require(len(items) <= MAX_ASSORTMENT, "items", f"at most {MAX_ASSORTMENT} pieces")
    for index, item in enumerate(items):
        violations.require(bool(item.sku.strip()), f"items[{index}].sku", "is required")
    violations.raise_if_any()
    return tuple(items)


def check_reason(reason: str, field_path: str = "reason") -> None:
    violations = Violations()
    violations.require(bool(reason.strip()), field_path, "is required")
    violations.require(len(reason) <= MAX_REASON, field_path, f"at most {MAX_REASON} characters")
    violations.raise_if_any()


def _require(visit: Visit, state: State, action: str) -> None:
    if visit.state is not state:
        raise TransitionRefused(action, visit.state)
