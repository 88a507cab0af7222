"""An associate's schedule: her weekly working periods, changed on given dates by her
exceptions (leave and training take time out; other hours replace the weekly ones), on
her store's wall clock. `working_periods` is what she offers on one date; the store's
opening hours bound it (availability)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from servicekit.errors import Violations

from .store_hours import WEEKDAYS
from .wallclock import MINUTES_PER_DAY, DayPeriod, subtract, union

# How many dates one exception may cover.
MAX_EXCEPTION_DAYS = 366
MAX_REASON = 200
UPDATABLE = ("weekly_hours",)
OUTPUT_ONLY = ("name", "store", "time_zone", "update_time")


class ExceptionKind(StrEnum):
    # She does not work then: the period is taken out of her hours on each date.
    UNAVAILABLE = "unavailable"
    # She works then instead of her weekly hours of those dates.
    AVAILABLE = "available"


@dataclass(frozen=True)
class ScheduleException:
    """`period` is the part of each date from `first` to `last` (inclusive) concerned;
    None for whole days (UNAVAILABLE only)."""

    kind: ExceptionKind
    first: date
    last: date
    period: DayPeriod | None = None

    def covers(self, day: date) -> bool:
        return self.first <= day <= self.last


@dataclass(frozen=True)
class Schedule:
    """`weekly`: weekday (Monday 1 … Sunday 7) → her working periods that day."""

    associate_id: str
    weekly: Mapping[int, tuple[DayPeriod, ...]]
    exceptions: Sequence[ScheduleException] = ()

    def working_periods(self, day: date) -> tuple[DayPeriod, ...]:
        """Her hours on a local date: the AVAILABLE exceptions of that date if any (they
        add up), else her weekly hours of that weekday; less every UNAVAILABLE exception
        of that date (whole day, or its period)."""
        concerned = [e for e in self.exceptions if e.covers(day)]
        replacing = [e.period for e in concerned if e.kind is ExceptionKind.AVAILABLE and e.period is not None]
        hours = union(replacing) if replacing else union(self.weekly.get(day.isoweekday(), ()))
        for e in concerned:
            if e.kind is ExceptionKind.UNAVAILABLE:
                hours = () if e.period is None else subtract(hours, [e.period])
        return hours


# ---------------------------------------------------------------- validation


def check_minutes(minutes: int | None, field_path: str, violations: Violations, *, end: bool = False) -> None:
    """A time of day given as minutes since midnight, None when not a whole minute;
    24:00 only as the end of a period."""
    if minutes is None:
        violations.add(field_path, "must be a whole minute of the day")
    elif not 0 <= minutes <= (MINUTES_PER_DAY if end else MINUTES_PER_DAY - 1):
        violations.add(field_path, "must be between 00:00 and 24:00" if end else "must be between 00:00 and 23:59")


def weekly_hours(
    entries: Iterable[tuple[int, int | None, int | None]], violations: Violations, field_path: str = "weekly_hours"
) -> dict[int, tuple[DayPeriod, ...]]:
    """Weekly periods from (weekday, start minutes, end minutes) entries: each a known
    weekday and a non-empty period, no two of one weekday overlapping."""
    by_day: dict[int, list[DayPeriod]] = {}
    for index, (day, start, end) in enumerate(entries):
        path = f"{field_path}[{index}]"
        if day not in WEEKDAYS:
            violations.add(f"{path}.day", "must be a day of the week")
        check_minutes(start, f"{path}.start_time", violations)
        check_minutes(end, f"{path}.end_time", violations, end=True)
        if day not in WEEKDAYS or start is None or end is None or not 0 <= start < MINUTES_PER_DAY:
            continue
        if not start < end <= MINUTES_PER_DAY:
            violations.add(f"{path}.end_time", "must be later than start_time")
            continue
        period = DayPeriod(start, end)
        if any(period.start < p.end and p.start < period.end for p in by_day.get(day, [])):
            violations.add(path, "overlaps another period of the same day")
            continue
        by_day.setdefault(day, []).append(period)
    return {day: union(periods) for day, periods in by_day.items()}


def exception(
    kind: ExceptionKind | None,
    first: date | None,
    last: date | None,
    start: int | None,
    end: int | None,
    violations: Violations,
    field_path: str = "schedule_exception",
) -> ScheduleException | None:
    """An exception from its fields: `last` defaults to `first` and is at most a year
    after it; `start`/`end` both set (a part of each day) or both None (whole days,
    UNAVAILABLE only). None with the problems collected."""
    before = len(violations.items)
    if kind is None:
        violations.add(f"{field_path}.kind", "must be KIND_UNAVAILABLE or KIND_AVAILABLE")
    if first is None:
        violations.add(f"{field_path}.start_date", "is required")
    last = last or first
    if first is not None and last is not None:
        if last < first:
            violations.add(f"{field_path}.end_date", "must not be before start_date")
        elif last - first >= timedelta(days=MAX_EXCEPTION_DAYS):
            violations.add(f"{field_path}.end_date", f"must be within {MAX_EXCEPTION_DAYS} days of start_date")
    period: DayPeriod | None = None
    if start is None and end is None:
        if kind is ExceptionKind.AVAILABLE:
            violations.add(f"{field_path}.start_time", "an AVAILABLE exception names its hours")
    else:
        check_minutes(start, f"{field_path}.start_time", violations)
        check_minutes(end, f"{field_path}.end_time", violations, end=True)
        if start is not None and end is not None and 0 <= start < end <= MINUTES_PER_DAY:
            period = DayPeriod(start, end)
        elif start is not None and end is not None:
            violations.add(f"{field_path}.end_time", "must be later than start_time")
    if len(violations.items) > before or kind is None or first is None or last is None:
        return None
    return ScheduleException(kind, first, last, period)
