"""Schedules and store hours: the working periods of a date, and their validation."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from servicekit.errors import Violations
from services.appointments.domain.schedules import (
    ExceptionKind,
    Schedule,
    ScheduleException,
    exception,
    weekly_hours,
)
from services.appointments.domain.store_hours import StoreHours
from tests.appointments.support import period

MONDAY = date(2026, 5, 4)
WEEKLY = {1: (period("10:00", "13:00"), period("14:00", "19:00")), 2: (period("10:00", "19:00"),)}


def test_weekly_hours_by_weekday():
    schedule = Schedule("a-1", WEEKLY)
    assert schedule.working_periods(MONDAY) == WEEKLY[1]
    assert schedule.working_periods(MONDAY + timedelta(days=1)) == WEEKLY[2]
    assert schedule.working_periods(MONDAY + timedelta(days=2)) == ()


def test_exceptions_take_out_or_replace():
    leave = ScheduleException(ExceptionKind.UNAVAILABLE, MONDAY, MONDAY + timedelta(days=1))
    training = ScheduleException(
        ExceptionKind.UNAVAILABLE, MONDAY + timedelta(days=1), MONDAY + timedelta(days=1), period("15:00", "17:00")
    )
    late = ScheduleException(
        ExceptionKind.AVAILABLE, MONDAY + timedelta(days=2), MONDAY + timedelta(days=2), period("12:00", "16:00")
    )
    later = ScheduleException(
        ExceptionKind.AVAILABLE, MONDAY + timedelta(days=2), MONDAY + timedelta(days=2), period("16:00", "21:00")
    )
    assert Schedule("a-1", WEEKLY, (leave,)).working_periods(MONDAY) == ()
    assert Schedule("a-1", WEEKLY, (training,)).working_periods(MONDAY + timedelta(days=1)) == (
        period("10:00", "15:00"),
        period("17:00", "19:00"),
    )
    # Two AVAILABLE exceptions of a day off add up.
    assert Schedule("a-1", WEEKLY, (late, later)).working_periods(MONDAY + timedelta(days=2)) == (
        period("12:00", "21:00"),
    )
    # Leave wins over other hours the same day.
    both = Schedule("a-1", WEEKLY, (late, ScheduleException(ExceptionKind.UNAVAILABLE, late.first, late.last)))
    assert both.working_periods(late.first) == ()


def test_store_hours_with_exceptions():
    hours = StoreHours(
        "s-1", "Europe/Paris", WEEKLY, {MONDAY: (), MONDAY + timedelta(days=1): (period("12:00", "15:00"),)}
    )
    assert hours.opening(MONDAY) == ()
    assert hours.opening(MONDAY + timedelta(days=1)) == (period("12:00", "15:00"),)
    assert hours.opening(MONDAY + timedelta(days=7)) == WEEKLY[1]
    assert str(hours.zone) == "Europe/Paris"


def test_weekly_hours_validation_names_every_bad_entry():
    violations = Violations()
    found = weekly_hours(
        [
            (1, 600, 780),
            (1, 720, 900),  # overlaps the first
            (8, 600, 700),  # no such weekday
            (2, 600, None),  # not a whole minute
            (3, 900, 600),  # ends before it starts
            (4, 600, 1440),  # until midnight is fine
            (5, 1440, 1440),  # starts at 24:00
        ],
        violations,
    )
    assert found == {1: (period("10:00", "13:00"),), 4: (period("10:00", "24:00"),)}
    assert violations.items == [
        ("weekly_hours[1]", "overlaps another period of the same day"),
        ("weekly_hours[2].day", "must be a day of the week"),
        ("weekly_hours[3].end_time", "must be a whole minute of the day"),
        ("weekly_hours[4].end_time", "must be later than start_time"),
        ("weekly_hours[6].start_time", "must be between 00:00 and 23:59"),
    ]


@pytest.mark.parametrize(
    ("fields", "problems"),
    [
        ((ExceptionKind.UNAVAILABLE, MONDAY, None, None, None), []),
        ((ExceptionKind.UNAVAILABLE, MONDAY, MONDAY + timedelta(days=365), 600, 720), []),
        ((ExceptionKind.AVAILABLE, MONDAY, None, 600, 720), []),
        ((None, None, None, None, None), ["schedule_exception.kind", "schedule_exception.start_date"]),
        ((ExceptionKind.UNAVAILABLE, MONDAY, MONDAY - timedelta(days=1), None, None), ["schedule_exception.end_date"]),
        (
            (ExceptionKind.UNAVAILABLE, MONDAY, MONDAY + timedelta(days=366), None, None),
            ["schedule_exception.end_date"],
        ),
        ((ExceptionKind.AVAILABLE, MONDAY, None, None, None), ["schedule_exception.start_time"]),
        ((ExceptionKind.UNAVAILABLE, MONDAY, None, 720, 600), ["schedule_exception.end_time"]),
        ((ExceptionKind.UNAVAILABLE, MONDAY, None, 600, None), ["schedule_exception.end_time"]),
    ],
)
def test_exception_validation(fields, problems):
    violations = Violations()
    made = exception(*fields, violations)
    assert [path for path, _ in violations.items] == problems
    assert (made is None) == bool(problems)
    if made is not None:
        assert made.last >= made.first
