"""Store fields: time zone, opening hours and exceptions, validated without I/O."""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from google.type import dayofweek_pb2

from atelier.associate.v1 import store_pb2
from servicekit.errors import Violations

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
UPDATABLE = ("code", "display_name", "time_zone", "region", "weekly_hours", "exceptions")
OUTPUT_ONLY = ("name", "create_time", "update_time", "etag")


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


def _minutes(t) -> int:
    return t.hours * 60 + t.minutes


def _time_ok(t) -> bool:
    return 0 <= t.hours <= 24 and 0 <= t.minutes < 60 and t.seconds == 0 and t.nanos == 0 and _minutes(t) <= 24 * 60


def read(store: store_pb2.Store, paths: tuple[str, ...], prefix: str, violations: Violations) -> dict:
    """The columns for `paths`, every bad field reported in `violations`."""
    out: dict = {}
    if "code" in paths:
        violations.require(bool(CODE.match(store.code)), prefix + "code", "required: 1-32 letters, digits, - or _")
        out["code"] = store.code
    if "display_name" in paths:
        name = store.display_name.strip()
        violations.require(0 < len(name) <= 120, prefix + "display_name", "required, at most 120 characters")
        out["display_name"] = name
    if "time_zone" in paths:
        violations.require(
            valid_time_zone(store.time_zone), prefix + "time_zone", "required: an IANA time zone such as Europe/Paris"
        )
        out["time_zone"] = store.time_zone
    if "region" in paths:
        violations.require(len(store.region) <= 64, prefix + "region", "at most 64 characters")
        out["region"] = store.region.strip()
    if "weekly_hours" in paths:
        hours = []
        for i, h in enumerate(store.weekly_hours):
            at = f"{prefix}weekly_hours[{i}]"
            if h.day == dayofweek_pb2.DAY_OF_WEEK_UNSPECIFIED or h.day not in dayofweek_pb2.DayOfWeek.values():
                violations.add(at + ".day", "required: a weekday")
            if not (_time_ok(h.open_time) and _time_ok(h.close_time)) or _minutes(h.close_time) <= _minutes(h.open_time):
                violations.add(at + ".close_time", "must be a whole minute after open_time, on the same day")
            hours.append({"day": h.day, "open": _minutes(h.open_time), "close": _minutes(h.close_time)})
        out["weekly_hours"] = sorted(hours, key=lambda x: (x["day"], x["open"]))
    if "exceptions" in paths:
        seen = set()
        items = []
        for i, e in enumerate(store.exceptions):
            at = f"{prefix}exceptions[{i}]"
            try:
                day = date(e.date.year, e.date.month, e.date.day)
            except ValueError:
                violations.add(at + ".date", "required: a full calendar date")
                continue
            if day in seen:
                violations.add(at + ".date", "another exception has this date")
            seen.add(day)
            if not e.closed and (
                not (_time_ok(e.open_time) and _time_ok(e.close_time))
                or _minutes(e.close_time) <= _minutes(e.open_time)
            ):
                violations.add(at + ".close_time", "must be after open_time unless the store is closed")
            items.append(
                {
                    "date": day.isoformat(),
                    "closed": e.closed,
                    "open": _minutes(e.open_time),
                    "close": _minutes(e.close_time),
                    "label": e.label.strip()[:120],
                }
            )
        out["exceptions"] = sorted(items, key=lambda x: x["date"])
    return out

