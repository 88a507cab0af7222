"""Appointment types: where they are offered and the bounds of their durations."""

from __future__ import annotations

from datetime import timedelta

import pytest

from servicekit.errors import Violations
from services.appointments.domain.appointment_types import check_durations, check_texts
from tests.appointments.support import visit_type


def test_offered_in_its_stores_unless_archived():
    assert visit_type().offered_in("s-1")
    assert visit_type(stores=("s-1", "s-2")).offered_in("s-2")
    assert not visit_type(stores=("s-2",)).offered_in("s-1")
    assert not visit_type(archived=True).offered_in("s-1")
    assert visit_type(step=20).slot_minutes == 20


@pytest.mark.parametrize(
    ("values", "problems"),
    [
        (dict(duration=timedelta(minutes=45), slot_interval=timedelta(minutes=15)), []),
        (dict(duration=timedelta(minutes=4)), [("appointment_type.duration", "must be between 5 minutes and 8 hours")]),
        (dict(duration=timedelta(minutes=30, seconds=1)), [("appointment_type.duration", "must be whole minutes")]),
        (
            dict(buffer_before=timedelta(hours=5)),
            [("appointment_type.buffer_before", "must be between 0 minutes and 4 hours")],
        ),
        (
            dict(buffer_after=-timedelta(minutes=5)),
            [("appointment_type.buffer_after", "must be between 0 minutes and 4 hours")],
        ),
        (
            dict(booking_horizon=timedelta(days=400)),
            [("appointment_type.booking_horizon", "must be between 1 days and 366 days")],
        ),
        (
            dict(minimum_lead_time=timedelta(days=31)),
            [("appointment_type.minimum_lead_time", "must be between 0 minutes and 30 days")],
        ),
        (
            dict(slot_interval=timedelta(minutes=7)),
            [("appointment_type.slot_interval", "must divide a day (e.g. 15, 20, 30 or 60 minutes)")],
        ),
    ],
)
def test_duration_bounds(values, problems):
    violations = Violations()
    check_durations(violations, **values)
    assert violations.items == problems


def test_texts():
    violations = Violations()
    check_texts(violations, display_name=" ", description="x" * 2001, specialities=["watches", " "])
    assert [path for path, _ in violations.items] == [
        "appointment_type.display_name",
        "appointment_type.description",
        "appointment_type.specialities",
    ]
    clean = Violations()
    check_texts(clean, display_name="Watch fitting", description="", specialities=["watches"])
    assert not clean
