"""The book's filter and order, store hours and associate fields, without a database."""

from __future__ import annotations

import pytest
from google.type import dayofweek_pb2

from atelier.associate.v1 import associate_pb2, store_pb2
from atelier.customer.v1 import customer_pb2
from services.associate.domain import book, hours, staff
from servicekit.errors import InvalidArgument, Violations


def test_book_filter_terms():
    flt = book.parse_filter('tier = VIP AND tags:"Watches" AND role = ASSIGNMENT_ROLE_SECONDARY')
    assert (flt.tier, flt.role, flt.tags) == (customer_pb2.TIER_VIP, 2, ("watches",))
    assert book.parse_filter("  ") == book.BookFilter()


@pytest.mark.parametrize("text", ["tier = GOLD", "price > 3", "role = ASSIGNMENT_ROLE_UNSPECIFIED", "tier"])
def test_bad_book_filters_name_the_filter(text):
    with pytest.raises(InvalidArgument) as caught:
        book.parse_filter(text)
    assert [f for f, _ in caught.value.violations] == ["filter"]


def test_book_orders():
    assert book.parse_order("") == book.Order("last_contact_time", True)
    assert book.parse_order("lifetime_value") == book.Order("lifetime_value", True)
    assert book.parse_order("lifetime_value asc") == book.Order("lifetime_value", False)
    assert book.parse_order("next_task") == book.Order("next_task_due_time", False)
    for bad in ("price", "next_task sideways", "a b c"):
        with pytest.raises(InvalidArgument):
            book.parse_order(bad)


def test_time_zones_come_from_the_iana_catalogue():
    assert hours.valid_time_zone("Asia/Shanghai")
    assert not hours.valid_time_zone("Mars/Olympus")
    assert not hours.valid_time_zone("../etc/passwd")
    assert not hours.valid_time_zone("")


def test_hours_and_exceptions_are_checked_and_normalised():
    store = store_pb2.Store()
    late = store.weekly_hours.add(day=dayofweek_pb2.FRIDAY)
    late.open_time.hours, late.close_time.hours, late.close_time.minutes = 10, 20, 30
    early = store.weekly_hours.add(day=dayofweek_pb2.MONDAY)
    early.open_time.hours, early.close_time.hours = 10, 19
    closed = store.exceptions.add(closed=True, label=" Christmas ")
    closed.date.year, closed.date.month, closed.date.day = 2026, 12, 25
    violations = Violations()
    values = hours.read(store, ("weekly_hours", "exceptions"), "store.", violations)
    assert not violations
    assert values["weekly_hours"] == [
        {"day": dayofweek_pb2.MONDAY, "open": 600, "close": 1140},
        {"day": dayofweek_pb2.FRIDAY, "open": 600, "close": 1230},
    ]
    assert values["exceptions"][0] == {"date": "2026-12-25", "closed": True, "open": 0, "close": 0, "label": "Christmas"}


def test_bad_exceptions_are_named():
    store = store_pb2.Store()
    store.exceptions.add(closed=True)  # no date
    twice = [store.exceptions.add(closed=True), store.exceptions.add(closed=True)]
    for e in twice:
        e.date.year, e.date.month, e.date.day = 2026, 1, 1
    shut = store.exceptions.add(closed=False)
    shut.date.year, shut.date.month, shut.date.day = 2026, 1, 2
    violations = Violations()
    hours.read(store, ("exceptions",), "store.", violations)
    assert [f for f, _ in violations.items] == [
        "store.exceptions[0].date", "store.exceptions[2].date", "store.exceptions[3].close_time"
    ]


def test_referral_codes_are_readable_and_normalised():
    codes = {staff.new_referral_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == staff.CODE_LENGTH and not set(c) & set("01OIL") for c in codes)
    assert staff.normalise_referral_code(" ab-cd 23 ") == "ABCD23"


def test_associates_cannot_be_departed_by_an_update():
    violations = Violations()
    staff.read(associate_pb2.Associate(status=associate_pb2.ASSOCIATE_STATUS_DEPARTED), ("status",), "associate.", violations)
    assert [f for f, _ in violations.items] == ["associate.status"]
