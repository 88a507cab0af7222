"""A store's opening hours as the appointments service keeps them (a read model of the
associate service's stores): weekly periods per weekday, replaced on given dates by
exceptions (a holiday closed all day, a late opening), all on the store's wall clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from .wallclock import DayPeriod, union

# Weekdays as google.type.DayOfWeek and date.isoweekday() number them: Monday 1 … Sunday 7.
WEEKDAYS = range(1, 8)


@dataclass(frozen=True)
class StoreHours:
    """`weekly`: weekday → its opening periods (a weekday without any is closed).
    `exceptions`: date → the periods of that date instead (empty: closed all day)."""

    store_id: str
    time_zone: str
    weekly: Mapping[int, tuple[DayPeriod, ...]]
    exceptions: Mapping[date, tuple[DayPeriod, ...]] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def opening(self, day: date) -> tuple[DayPeriod, ...]:
        """The periods the store is open on a local date."""
        if day in self.exceptions:
            return union(self.exceptions[day])
        return union(self.weekly.get(day.isoweekday(), ()))
