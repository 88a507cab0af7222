"""Appointment types: how long a kind of visit lasts, the time kept free around it, how
soon and how far ahead it can be booked, its grid of start times, who may host it and
where it is offered."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import timedelta

from servicekit.errors import Violations

from .wallclock import MINUTES_PER_DAY

UPDATABLE = (
    "display_name",
    "description",
    "duration",
    "buffer_before",
    "buffer_after",
    "minimum_lead_time",
    "booking_horizon",
    "slot_interval",
    "specialities",
    "stores",
    "archived",
)
OUTPUT_ONLY = ("name", "create_time", "update_time", "etag")

MIN_DURATION = timedelta(minutes=5)
MAX_DURATION = timedelta(hours=8)
MAX_BUFFER = timedelta(hours=4)
MAX_LEAD_TIME = timedelta(days=30)
DEFAULT_HORIZON = timedelta(days=90)
MAX_HORIZON = timedelta(days=366)
DEFAULT_SLOT_INTERVAL = timedelta(minutes=30)
MIN_SLOT_INTERVAL = timedelta(minutes=5)
MAX_SLOT_INTERVAL = timedelta(hours=4)
MAX_DISPLAY_NAME = 120
MAX_DESCRIPTION = 2000
MAX_SPECIALITIES = 20


@dataclass(frozen=True)
class AppointmentType:
    """The rules of a kind of visit (durations are whole minutes)."""

    type_id: str
    duration: timedelta
    buffer_before: timedelta = timedelta()
    buffer_after: timedelta = timedelta()
    minimum_lead_time: timedelta = timedelta()
    booking_horizon: timedelta = DEFAULT_HORIZON
    slot_interval: timedelta = DEFAULT_SLOT_INTERVAL
    # An associate hosts it only with one of these; anyone when empty.
    specialities: frozenset[str] = field(default_factory=frozenset)
    # Offered only in these stores (ids); everywhere when empty.
    stores: frozenset[str] = field(default_factory=frozenset)
    archived: bool = False

    @property
    def slot_minutes(self) -> int:
        return int(self.slot_interval / timedelta(minutes=1))

    def offered_in(self, store_id: str) -> bool:
        return not self.archived and (not self.stores or store_id in self.stores)


def _whole_minutes(value: timedelta) -> bool:
    return value % timedelta(minutes=1) == timedelta()


def check_durations(
    violations: Violations,
    *,
    duration: timedelta | None = None,
    buffer_before: timedelta | None = None,
    buffer_after: timedelta | None = None,
    minimum_lead_time: timedelta | None = None,
    booking_horizon: timedelta | None = None,
    slot_interval: timedelta | None = None,
    field_path: str = "appointment_type",
) -> None:
    """The bounds of each duration given (None: not being set)."""

    def bounded(name: str, value: timedelta | None, low: timedelta, high: timedelta) -> None:
        if value is None:
            return
        path = f"{field_path}.{name}"
        if not _whole_minutes(value):
            violations.add(path, "must be whole minutes")
        elif not low <= value <= high:
            violations.add(path, f"must be between {_words(low)} and {_words(high)}")

    bounded("duration", duration, MIN_DURATION, MAX_DURATION)
    bounded("buffer_before", buffer_before, timedelta(), MAX_BUFFER)
    bounded("buffer_after", buffer_after, timedelta(), MAX_BUFFER)
    bounded("minimum_lead_time", minimum_lead_time, timedelta(), MAX_LEAD_TIME)
    bounded("booking_horizon", booking_horizon, timedelta(days=1), MAX_HORIZON)
    bounded("slot_interval", slot_interval, MIN_SLOT_INTERVAL, MAX_SLOT_INTERVAL)
    if slot_interval is not None and _whole_minutes(slot_interval) and slot_interval > timedelta():
        minutes = int(slot_interval / timedelta(minutes=1))
        if MINUTES_PER_DAY % minutes:
            violations.add(f"{field_path}.slot_interval", "must divide a day (e.g. 15, 20, 30 or 60 minutes)")


def check_texts(
    violations: Violations,
    *,
    display_name: str | None = None,
    description: str | None = None,
    specialities: Collection[str] | None = None,
    field_path: str = "appointment_type",
) -> None:
    if display_name is not None and not 1 <= len(display_name.strip()) <= MAX_DISPLAY_NAME:
        violations.add(f"{field_path}.display_name", f"is required, at most {MAX_DISPLAY_NAME} characters")
    if description is not None and len(description) > MAX_DESCRIPTION:
        violations.add(f"{field_path}.description", f"at most {MAX_DESCRIPTION} characters")
    if specialities is not None:
        if len(specialities) > MAX_SPECIALITIES:
            violations.add(f"{field_path}.specialities", f"at most {MAX_SPECIALITIES}")
        if any(not s.strip() for s in specialities):
            violations.add(f"{field_path}.specialities", "must not hold an empty speciality")


def _words(value: timedelta) -> str:
    minutes = int(value / timedelta(minutes=1))
    if minutes and minutes % MINUTES_PER_DAY == 0:
        return f"{minutes // MINUTES_PER_DAY} days"
    if minutes and minutes % 60 == 0:
        return f"{minutes // 60} hours"
    return f"{minutes} minutes"
