"""The book's filter and order, store time zones and referral codes, without a database."""

from __future__ import annotations

import pytest

from atelier.customer.v1 import customer_pb2
from servicekit.errors import InvalidArgument
from services.associate.domain import book, staff, stores


def test_book_filter_terms():
    flt = book.parse_filter('tier = VIP AND tags:"Watches" AND role = ASSIGNMENT_ROLE_SECONDARY')
    assert (flt.tier, flt.role, flt.tags) == (customer_pb2.TIER_VIP, 2, ("watches",))
    assert book.parse_filter("  ") == book.BookFilter()


@pytest.mark.parametrize(
    "text", ["tier = GOLD", "price > 3", "role = ASSIGNMENT_ROLE_UNSPECIFIED", "tier = TIER_UNSPECIFIED", "tier"]
)
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
    assert stores.valid_time_zone("Asia/Shanghai")
    assert not stores.valid_time_zone("Mars/Olympus")
    assert not stores.valid_time_zone("../etc/passwd")
    assert not stores.valid_time_zone("")


def test_referral_codes_are_readable_and_normalised():
    codes = {staff.new_referral_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == staff.CODE_LENGTH and not set(c) & set("01OIL") for c in codes)
    assert staff.normalise_referral_code(" ab-cd 23 ") == "ABCD23"
