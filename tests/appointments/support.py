"""Builders of the appointments service's domain values for its tests (pure: no servers)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.appointments.domain.appointment_types import AppointmentType
from services.appointments.domain.availability import Availability, Bookable, Busy, held
from services.appointments.domain.hosts import Host
from services.appointments.domain.schedules import Schedule, ScheduleException
from services.appointments.domain.store_hours import WEEKDAYS, StoreHours
from services.appointments.domain.wallclock import DayPeriod

PARIS = "Europe/Paris"
NEW_YORK = "America/New_York"
SHANGHAI = "Asia/Shanghai"

# The daylight-saving switches of 2026 (all on Sundays).
PARIS_SPRING, PARIS_AUTUMN = date(2026, 3, 29), date(2026, 10, 25)
NEW_YORK_SPRING, NEW_YORK_AUTUMN = date(2026, 3, 8), date(2026, 11, 1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: str, day: date, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    """A wall-clock time as an instant in UTC."""
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone)).replace(fold=fold).astimezone(UTC)


def period(start: str, end: str) -> DayPeriod:
    """`period("10:00", "19:00")`; "24:00" ends the day."""
    h1, m1 = map(int, start.split(":"))
    h2, m2 = map(int, end.split(":"))
    return DayPeriod(h1 * 60 + m1, h2 * 60 + m2)


def every_day(*periods: DayPeriod) -> dict[int, tuple[DayPeriod, ...]]:
    return {day: tuple(periods) for day in WEEKDAYS}


def store(zone: str = PARIS, hours: tuple[DayPeriod, ...] = (), **exceptions: tuple[DayPeriod, ...]) -> StoreHours:
    """Open every day (10:00-19:00 unless `hours`); `exceptions` by ISO date (`d2026_12_25=()`)."""
    by_date = {date.fromisoformat(key[1:].replace("_", "-")): value for key, value in exceptions.items()}
    return StoreHours("s-1", zone, every_day(*(hours or (period("10:00", "19:00"),))), by_date)


def host(associate_id: str, *specialities: str, store_id: str = "s-1", active: bool = True) -> Host:
    return Host(associate_id, store_id, frozenset(specialities), active)


def bookable(
    associate_id: str,
    *specialities: str,
    hours: tuple[DayPeriod, ...] = (),
    exceptions: tuple[ScheduleException, ...] = (),
    active: bool = True,
) -> Bookable:
    weekly = every_day(*(hours or (period("10:00", "19:00"),)))
    return Bookable(host(associate_id, *specialities, active=active), Schedule(associate_id, weekly, exceptions))


def visit_type(
    minutes: int = 60,
    *,
    before: int = 0,
    after: int = 0,
    lead: timedelta = timedelta(),
    horizon: timedelta = timedelta(days=366),
    step: int = 30,
    specialities: tuple[str, ...] = (),
    stores: tuple[str, ...] = (),
    archived: bool = False,
) -> AppointmentType:
    return AppointmentType(
        "fitting",
        timedelta(minutes=minutes),
        timedelta(minutes=before),
        timedelta(minutes=after),
        lead,
        horizon,
        timedelta(minutes=step),
        frozenset(specialities),
        frozenset(stores),
        archived,
    )


def booking(associate_id: str, start: datetime, minutes: int = 60, before: int = 0, after: int = 0) -> Busy:
    end = start + timedelta(minutes=minutes)
    return Busy(associate_id, held(start, end, timedelta(minutes=before), timedelta(minutes=after)))


def availability(
    hours: StoreHours,
    kind: AppointmentType,
    *candidates: Bookable,
    busy: tuple[Busy, ...] = (),
    now: datetime = datetime(2026, 1, 1, tzinfo=UTC),
) -> Availability:
    return Availability(hours, kind, list(candidates), list(busy), now)


def wall(instant: datetime, zone: str) -> str:
    """`"2026-03-29 10:00 +0200"`: how the store's clock reads an instant."""
    return instant.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %z")
