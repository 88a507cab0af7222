"""Available slots: the times a visit of a type can start in a store, and who is free
to host it then.

A slot of an associate starts on the type's wall-clock grid (wallclock.grid) and
* lies wholly within her working hours and the store's opening hours of that date, both
  read on the store's wall clock (wallclock.spans: correct across daylight-saving
  changes);
* keeps its buffers clear of her other active bookings' buffers: the time a booking
  holds is [start - buffer_before, end + buffer_after), and two held times never
  overlap (touching is fine). This is the very rule of the bookings table's exclusion
  constraint, so a slot offered here is one the database accepts unless someone books
  it first. Buffers are about keeping bookings apart; they may fall outside opening
  hours (preparing before the doors open);
* starts no sooner than the type's minimum lead time after now and no later than its
  booking horizon after now.

Hosts are the associates qualified for the type (hosts.qualified). Durations are real
elapsed time: a one-hour visit lasts an hour even across a change of the clocks.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from servicekit.errors import FailedPrecondition

from .appointment_types import AppointmentType
from .hosts import Host, qualified
from .schedules import Schedule
from .store_hours import StoreHours
from .wallclock import Span, grid, intersect, local_dates, merge, spans

# How far ahead suggestions after a taken slot look.
SUGGESTION_REACH = timedelta(days=14)


def held(start: datetime, end: datetime, buffer_before: timedelta, buffer_after: timedelta) -> Span:
    """The time a booking holds: the visit and its buffers."""
    return Span(start - buffer_before, end + buffer_after)


@dataclass(frozen=True)
class Busy:
    """Time an active booking of an associate holds (`held`)."""

    associate_id: str
    span: Span
    booking_id: str = ""


@dataclass(frozen=True)
class Bookable:
    """A candidate host and her schedule (availability keeps those qualified for the type)."""

    host: Host
    schedule: Schedule


@dataclass(frozen=True)
class OpenSlot:
    start: datetime
    end: datetime
    # The qualified associates free then, by id.
    associates: tuple[str, ...]


class NotOffered(FailedPrecondition):
    reason = "APPOINTMENT_TYPE_NOT_OFFERED"

    def __init__(self, type_id: str, store_id: str):
        super().__init__(
            f"appointmentTypes/{type_id} is not offered in stores/{store_id}",
            metadata={"appointment_type": f"appointmentTypes/{type_id}", "store": f"stores/{store_id}"},
        )


class _Calendar:
    """One associate's held times, sorted (they never overlap one another)."""

    def __init__(self, held_spans: Iterable[Span]):
        ordered = sorted(held_spans)
        self.starts = [s.start for s in ordered]
        self.ends = [s.end for s in ordered]

    def clear(self, start: datetime, end: datetime) -> bool:
        """Whether [start, end) meets none of the held times. The held time starting last
        before `end` is the only one that can reach into it, held times being disjoint
        (so ordered by their ends too)."""
        i = bisect_left(self.starts, end)
        return i == 0 or self.ends[i - 1] <= start


_NOTHING_HELD = _Calendar(())
# Slots are worked out a few dates at a time, so a page of them costs a few dates.
_CHUNK = timedelta(days=3)
_TICK = timedelta(microseconds=1)


@dataclass
class Availability:
    """Everything availability depends on, for one store and appointment type."""

    store: StoreHours
    appointment_type: AppointmentType
    candidates: Sequence[Bookable]
    busy: Sequence[Busy]
    now: datetime
    # A booking being rescheduled: its own held time does not count.
    ignoring: str = ""

    def __post_init__(self) -> None:
        by_associate: dict[str, list[Span]] = {}
        for b in self.busy:
            if b.booking_id and b.booking_id == self.ignoring:
                continue
            by_associate.setdefault(b.associate_id, []).append(b.span)
        self._calendars = {a: _Calendar(s) for a, s in by_associate.items()}

    def check_offered(self) -> None:
        if not self.appointment_type.offered_in(self.store.store_id):
            raise NotOffered(self.appointment_type.type_id, self.store.store_id)

    @property
    def earliest(self) -> datetime:
        return self.now + self.appointment_type.minimum_lead_time

    @property
    def latest(self) -> datetime:
        """The last start the horizon allows (inclusive)."""
        return self.now + self.appointment_type.booking_horizon

    def hosts(self, only: str | None = None) -> list[Bookable]:
        return [
            c
            for c in self.candidates
            if (only is None or c.host.associate_id == only)
            and qualified(c.host, self.store.store_id, self.appointment_type)
        ]

    def slots(
        self, start: datetime, end: datetime, *, only: str | None = None, limit: int | None = None
    ) -> list[OpenSlot]:
        """Slots starting in [start, end), soonest first (none when the type is not
        offered in the store); `only`: one associate's; `limit`: at most that many."""
        if not self.appointment_type.offered_in(self.store.store_id):
            return []
        first, last = max(start, self.earliest), min(end, self.latest + _TICK)
        hosts = self.hosts(only)
        found: list[OpenSlot] = []
        while first < last and (limit is None or len(found) < limit):
            upto = min(first + _CHUNK, last)
            found += self._slots(hosts, first, upto)
            first = upto
        return found if limit is None else found[:limit]

    def free_at(self, start: datetime, *, only: str | None = None) -> tuple[str, ...]:
        """Who may host a visit starting exactly at `start` (nobody when it is not a slot)."""
        found = self.slots(start, start + _TICK, only=only)
        return found[0].associates if found and found[0].start == start else ()

    def next_free(self, after: datetime, count: int, *, only: str | None = None) -> list[datetime]:
        """The next `count` slot starts after `after` (the suggestions of SLOT_TAKEN)."""
        found = self.slots(after + _TICK, after + SUGGESTION_REACH, only=only, limit=count)
        return [s.start for s in found]

    def _slots(self, hosts: Sequence[Bookable], first: datetime, last: datetime) -> list[OpenSlot]:
        free: dict[datetime, list[str]] = {}
        for candidate in hosts:
            for begin in self._starts(candidate, first, last):
                free.setdefault(begin, []).append(candidate.host.associate_id)
        duration = self.appointment_type.duration
        return [OpenSlot(s, s + duration, tuple(sorted(free[s]))) for s in sorted(free)]

    def _starts(self, candidate: Bookable, first: datetime, last: datetime) -> list[datetime]:
        """Her slot starts in [first, last)."""
        kind, zone, opening = self.appointment_type, self.store.zone, self.store.opening
        hours = candidate.schedule.working_periods
        # A visit may end on the date after the one it starts (a store open until
        # midnight and from midnight): that date's hours count too.
        dates = local_dates(first, last, zone)
        dates.append(dates[-1] + timedelta(days=1))
        working = merge(s for day in dates for s in spans(day, intersect(hours(day), opening(day)), zone))
        calendar = self._calendars.get(candidate.host.associate_id, _NOTHING_HELD)
        duration, before, after = kind.duration, kind.buffer_before, kind.buffer_after
        starts: list[datetime] = []
        for span in working:
            if span.end <= first or span.start >= last:
                continue
            latest_start = min(span.end - duration, last - _TICK)
            for begin in grid(span, kind.slot_minutes, zone):
                if begin > latest_start:
                    break
                if begin >= first and calendar.clear(begin - before, begin + duration + after):
                    starts.append(begin)
        return starts
