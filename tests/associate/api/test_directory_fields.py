"""Store hours and exceptions, associate fields: read from a request into the stored
columns, every bad field named (no server needed)."""

from __future__ import annotations

from google.type import dayofweek_pb2

from atelier.associate.v1 import associate_pb2, store_pb2
from servicekit.errors import Violations
from services.associate.api.directory_fields import read_associate, read_store


def test_hours_and_exceptions_are_checked_and_normalised():
    store = store_pb2.Store()
    late = store.weekly_hours.add(day=dayofweek_pb2.FRIDAY)
    late.open_time.hours, late.close_time.hours, late.close_time.minutes = 10, 20, 30
    early = store.weekly_hours.add(day=dayofweek_pb2.MONDAY)
    early.open_time.hours, early.close_time.hours = 10, 19
    closed = store.exceptions.add(closed=True, label=" Christmas ")
    closed.date.year, closed.date.month, closed.date.day = 2026, 12, 25
    violations = Violations()
    values = read_store(store, ("weekly_hours", "exceptions"), "store.", violations)
    assert not violations
    assert values["weekly_hours"] == [
        {"day": dayofweek_pb2.MONDAY, "open": 600, "close": 1140},
        {"day": dayofweek_pb2.FRIDAY, "open": 600, "close": 1230},
    ]
    assert values["exceptions"][0] == {
        "date": "2026-12-25",
        "closed": True,
        "open": 0,
        "close": 0,
        "label": "Christmas",
    }


def test_bad_exceptions_are_named():
    store = store_pb2.Store()
    store.exceptions.add(closed=True)  # no date
    twice = [store.exceptions.add(closed=True), store.exceptions.add(closed=True)]
    for e in twice:
        e.date.year, e.date.month, e.date.day = 2026, 1, 1
    shut = store.exceptions.add(closed=False)
    shut.date.year, shut.date.month, shut.date.day = 2026, 1, 2
    violations = Violations()
    read_store(store, ("exceptions",), "store.", violations)
    assert [f for f, _ in violations.items] == [
        "store.exceptions[0].date",
        "store.exceptions[2].date",
        "store.exceptions[3].close_time",
    ]


def test_associates_cannot_be_departed_by_an_update():
    violations = Violations()
    read_associate(
        associate_pb2.Associate(status=associate_pb2.ASSOCIATE_STATUS_DEPARTED), ("status",), "associate.", violations
    )
    assert [f for f, _ in violations.items] == ["associate.status"]
