"""Stores: the fields a request may change, time zones and opening hours, checked without
I/O (the time zone catalogue is the system's IANA database)."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
UPDATABLE = ("code", "display_name", "time_zone", "region", "weekly_hours", "exceptions")
OUTPUT_ONLY = ("name", "create_time", "update_time", "etag")
# What a store's manager may change (headquarters changes anything).
HOURS = frozenset({"weekly_hours", "exceptions"})

MAX_DISPLAY_NAME = 120
MAX_REGION = 64
MAX_LABEL = 120
# google.type.DayOfWeek: MONDAY = 1 … SUNDAY = 7.
WEEKDAYS = range(1, 8)
MINUTES_PER_DAY = 24 * 60


def valid_time_zone(name: str) -> bool:
    # ZoneInfo accepts paths like "../x" on some platforms; the catalogue decides.
    if not name or name not in _zones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


def minutes(hours: int, minutes_: int) -> int:
    """A time of day as minutes since midnight (what the store's row holds)."""
    return hours * 60 + minutes_


def valid_time_of_day(hours: int, minutes_: int, seconds: int, nanos: int) -> bool:
    """A whole minute of the day, 24:00 included (a store open until midnight)."""
    return (
        0 <= hours <= 24
        and 0 <= minutes_ < 60
        and seconds == 0
        and nanos == 0
        and minutes(hours, minutes_) <= MINUTES_PER_DAY
    )
