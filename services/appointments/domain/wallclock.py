"""The store's wall clock: periods of a local day, and the instants they cover in a time
zone, exact across daylight-saving changes.

Schedules and opening hours are wall-clock times ("10:00-19:00 on Sundays"): a period
of a local date covers every instant whose local time, on that date, falls within it.
That one rule settles the two awkward cases, deliberately:

* Times a day skips (spring forward, e.g. 02:00-03:00 on 29 March 2026 in Paris) never
  occur, so they cover nothing: a period starting in the gap starts when the clocks
  resume, a period lying wholly in it is empty. 10:00-19:00 is 10:00-19:00 local, nine
  hours after 02:00 as on any day, whatever the day.
* Times a day repeats (fall back, e.g. 02:00-03:00 on 25 October 2026 in Paris) occur
  twice, and both occurrences are covered: 01:00-04:00 that night lasts four real
  hours; a period ending at 02:30 covers both runs of 02:00-02:30 (two spans).

Slot start times are a grid on the wall clock (every `step` minutes from midnight): a
grid time the day skips offers no slot, a grid time it repeats offers one per
occurrence. Durations and buffers are real elapsed time. Instants are timezone-aware
datetimes in UTC; the zone is the stdlib's IANA database (zoneinfo).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TypeVar
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60
_MINUTE = timedelta(minutes=1)
_SECOND = timedelta(seconds=1)
# Offsets stay within ±14 h (±16 h allows for historical local mean times).
_REACH = timedelta(hours=16)
# Two changes of offset are always more than an hour apart, so sampling every hour finds
# each change (bisected to the second).
_SAMPLE = timedelta(hours=1)
_EPOCH = datetime(2000, 1, 1)  # a Saturday at midnight: wall-clock grids count minutes from it


@dataclass(frozen=True, order=True)
class DayPeriod:
    """A period of one local day in minutes since midnight, [start, end), end ≤ 24:00."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= MINUTES_PER_DAY:
            raise ValueError(f"not a period of a day: {self.start}-{self.end} minutes")

    @classmethod
    def of(cls, start: time, end: time | None) -> DayPeriod:
        """From times of day; an `end` of None means midnight at the end of the day."""
        last = MINUTES_PER_DAY if end is None else end.hour * 60 + end.minute
        return cls(start.hour * 60 + start.minute, last)


@dataclass(frozen=True, order=True)
class Span:
    """A half-open interval of instants [start, end)."""

    start: datetime
    end: datetime

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Span) -> bool:
        return self.start <= other.start and other.end <= self.end


# ---------------------------------------------------------------- periods of a day


_Interval = TypeVar("_Interval", DayPeriod, Span)


def _merged(items: Iterable[_Interval]) -> list[_Interval]:
    """Sorted and disjoint, overlapping or touching intervals made one."""
    merged: list[_Interval] = []
    for item in sorted(items):
        if merged and item.start <= merged[-1].end:
            if item.end > merged[-1].end:
                merged[-1] = type(item)(merged[-1].start, item.end)
        else:
            merged.append(item)
    return merged


def union(periods: Iterable[DayPeriod]) -> tuple[DayPeriod, ...]:
    """The same minutes as sorted, disjoint periods (touching periods merged)."""
    return tuple(_merged(periods))


def intersect(a: Iterable[DayPeriod], b: Iterable[DayPeriod]) -> tuple[DayPeriod, ...]:
    left, right = union(a), union(b)
    found: list[DayPeriod] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start, end = max(left[i].start, right[j].start), min(left[i].end, right[j].end)
        if start < end:
            found.append(DayPeriod(start, end))
        if left[i].end < right[j].end:
            i += 1
        else:
            j += 1
    return tuple(found)


def subtract(a: Iterable[DayPeriod], b: Iterable[DayPeriod]) -> tuple[DayPeriod, ...]:
    """The minutes of `a` outside `b`."""
    remaining = list(union(a))
    for cut in union(b):
        kept: list[DayPeriod] = []
        for p in remaining:
            if cut.end <= p.start or p.end <= cut.start:
                kept.append(p)
                continue
            if p.start < cut.start:
                kept.append(DayPeriod(p.start, cut.start))
            if cut.end < p.end:
                kept.append(DayPeriod(cut.end, p.end))
        remaining = kept
    return tuple(remaining)


# ---------------------------------------------------------------- instants


@dataclass(frozen=True)
class _Segment:
    """Instants [start, end) during which the zone's offset is `offset`."""

    start: datetime
    end: datetime
    offset: timedelta


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None  # a ZoneInfo always answers
    return offset


def _change(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The instant in (before, after] at which the offset becomes the one `after` has.
    Offsets change on whole seconds, so bisecting whole POSIX seconds finds it exactly."""
    target = _offset(zone, after)
    lo, hi = math.floor(before.timestamp()), math.ceil(after.timestamp())
    while hi - lo > 1:
        middle = (lo + hi) // 2
        if _offset(zone, datetime.fromtimestamp(middle, UTC)) == target:
            hi = middle
        else:
            lo = middle
    return datetime.fromtimestamp(hi, UTC)


def _segments(zone: ZoneInfo, start: datetime, end: datetime) -> list[_Segment]:
    """The constant-offset pieces of the instants [start, end)."""
    segments: list[_Segment] = []
    seg_start, seg_offset = start, _offset(zone, start)
    last = end - _SECOND
    probe = start
    while probe < last:
        following = min(probe + _SAMPLE, last)
        offset = _offset(zone, following)
        if offset != seg_offset:
            change = _change(zone, probe, following)
            segments.append(_Segment(seg_start, change, seg_offset))
            seg_start, seg_offset = change, offset
        probe = following
    segments.append(_Segment(seg_start, end, seg_offset))
    return segments


@lru_cache(maxsize=4096)
def _day_segments(zone: ZoneInfo, day: date) -> tuple[_Segment, ...]:
    """Segments of every instant that may have a wall time on `day` (and a margin)."""
    midnight = datetime.combine(day, time()).replace(tzinfo=UTC)
    return tuple(_segments(zone, midnight - _REACH, midnight + timedelta(days=1) + _REACH))


def _utc(naive_utc: datetime) -> datetime:
    return naive_utc.replace(tzinfo=UTC)


def merge(items: Iterable[Span]) -> list[Span]:
    """Sorted, disjoint spans; touching spans become one."""
    return _merged(items)


def spans(day: date, periods: Iterable[DayPeriod], zone: ZoneInfo) -> list[Span]:
    """Every instant whose wall time on `day` in `zone` falls within `periods`: one span
    per period on an ordinary day; a period reaching into a repeated hour may give two
    (module docstring)."""
    return list(_spans(day, union(periods), zone))


@lru_cache(maxsize=8192)
def _spans(day: date, periods: tuple[DayPeriod, ...], zone: ZoneInfo) -> tuple[Span, ...]:
    # Associates mostly share a handful of shift patterns: remembered per date.
    if not periods:
        return ()
    midnight = datetime.combine(day, time())
    found: list[Span] = []
    for segment in _day_segments(zone, day):
        wall_start = segment.start.replace(tzinfo=None) + segment.offset
        wall_end = segment.end.replace(tzinfo=None) + segment.offset
        for p in periods:
            lo = max(wall_start, midnight + p.start * _MINUTE)
            hi = min(wall_end, midnight + p.end * _MINUTE)
            if lo < hi:
                found.append(Span(_utc(lo - segment.offset), _utc(hi - segment.offset)))
    return tuple(merge(found))


def grid(span: Span, step_minutes: int, zone: ZoneInfo) -> tuple[datetime, ...]:
    """The instants of `span` whose wall time is on the grid: a whole multiple of
    `step_minutes` (which divides a day) after midnight, in order. A grid time the clocks
    skip is not there; one they repeat is there once per occurrence."""
    if MINUTES_PER_DAY % step_minutes:
        raise ValueError(f"{step_minutes} minutes do not divide a day")
    return _grid(span, step_minutes, zone)


@lru_cache(maxsize=8192)
def _grid(span: Span, step_minutes: int, zone: ZoneInfo) -> tuple[datetime, ...]:
    # The same working spans recur for every associate sharing a shift: remembered.
    return tuple(_grid_times(span, step_minutes, zone))


def _grid_times(span: Span, step_minutes: int, zone: ZoneInfo) -> Iterator[datetime]:
    step = step_minutes * _MINUTE
    for segment in _segments(zone, span.start, span.end):
        wall_lo = segment.start.replace(tzinfo=None) + segment.offset
        wall_hi = segment.end.replace(tzinfo=None) + segment.offset
        # The first grid time at or after wall_lo.
        elapsed = wall_lo - _EPOCH
        behind = elapsed % step
        wall = wall_lo if not behind else wall_lo + (step - behind)
        while wall < wall_hi:
            yield _utc(wall - segment.offset)
            wall += step


# ---------------------------------------------------------------- dates and display


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def local_dates(start: datetime, end: datetime, zone: ZoneInfo) -> list[date]:
    """Every local date with an instant in [start, end)."""
    if end <= start:
        return []
    first, last = local_date(start, zone), local_date(end - _SECOND, zone)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a local date: midnight, or when the clocks resume if the day
    skips midnight."""
    found = spans(day, [DayPeriod(0, MINUTES_PER_DAY)], zone)
    return found[0].start
