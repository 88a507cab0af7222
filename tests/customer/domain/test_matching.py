"""Who a till sale is for, from contact points (services/customer/domain/matching.py):
only customers the caller reaches match; points of others are left to no one."""

from __future__ import annotations

from services.customer.domain.matching import Identified, Owned, identify
from services.customer.domain.profile import ContactPoint

EMAIL, PHONE = 1, 2
MAIL = ContactPoint(EMAIL, "mei@example.com", True)
CELL = ContactPoint(PHONE, "+33612345678", True)
OTHER_MAIL = ContactPoint(EMAIL, "mei.w@example.com", False)


def test_nobody_owns_the_points_so_a_new_customer_takes_them_all():
    assert identify([MAIL, CELL], [], frozenset()) == Identified(None, (MAIL, CELL))


def test_the_first_point_owned_by_a_customer_the_caller_reaches_decides():
    owners = [Owned(0, "c-far"), Owned(1, "c-near")]
    assert identify([MAIL, CELL], owners, frozenset({"c-near"})) == Identified("c-near")
    assert identify([MAIL, CELL], owners, frozenset({"c-far", "c-near"})) == Identified("c-far")


def test_points_of_customers_out_of_reach_are_no_match_and_are_not_taken():
    found = identify([MAIL, CELL], [Owned(0, "c-far")], frozenset())
    assert found == Identified(None, (CELL,))


def test_a_kind_whose_primary_point_was_left_out_gets_its_next_point_as_primary():
    found = identify([MAIL, OTHER_MAIL, CELL], [Owned(0, "c-far")], frozenset())
    assert found.customer_id is None
    assert found.free_points == (ContactPoint(EMAIL, "mei.w@example.com", True), CELL)


def test_every_point_out_of_reach_leaves_a_customer_without_contact_points():
    found = identify([MAIL], [Owned(0, "c-far"), Owned(0, "c-farther")], frozenset())
    assert found == Identified(None, ())
