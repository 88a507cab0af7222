"""Claims and staff rules, without a database."""

from __future__ import annotations

import pytest

from servicekit.auth import Principal, Role
from servicekit.errors import Aborted, FailedPrecondition
from services.associate.domain import claims, staff
from services.associate.domain.claims import ClaimState


class _Staff:
    def __init__(self, status: int, role: int = 1):
        self.id, self.store_id, self.role, self.status = "a-1", "paris", role, status


def test_a_claim_decided_again_the_same_way_changes_nothing_the_other_way_is_refused():
    assert not claims.decision_repeats(ClaimState.PENDING, True, "claims/x")
    assert claims.decision_repeats(ClaimState.APPROVED, True, "claims/x")
    assert claims.decision_repeats(ClaimState.REJECTED, False, "claims/x")
    with pytest.raises(FailedPrecondition) as refused:
        claims.decision_repeats(ClaimState.APPROVED, False, "claims/x")
    assert refused.value.reason == "CLAIM_DECIDED"


def test_only_an_active_associate_claims_a_customer_she_does_not_hold():
    claims.check_claimant(_Staff(staff.Status.ON_LEAVE), "associates/a-1")
    for me in (None, _Staff(staff.Status.DEPARTED)):
        with pytest.raises(FailedPrecondition) as unknown:
            claims.check_claimant(me, "associates/a-1")
        assert unknown.value.reason == "ASSOCIATE_UNKNOWN"
    claims.check_not_held("b-2", "a-1", "customers/c")
    with pytest.raises(FailedPrecondition) as held:
        claims.check_not_held("a-1", "a-1", "customers/c")
    assert held.value.reason == "ALREADY_HELD"


def test_whose_claims_a_caller_lists():
    assert claims.visible_to(Principal("associates/a-1", Role.ASSOCIATE, "a-1", "stores/paris")) == ("a-1", None)
    assert claims.visible_to(Principal("staff/m", Role.MANAGER, "m-1", "stores/paris")) == (None, "paris")
    assert claims.visible_to(Principal("staff/hq", Role.HQ)) == (None, None)


def test_departed_staff_hold_nobody_and_their_record_is_final():
    active, departed = _Staff(staff.Status.ACTIVE), _Staff(staff.Status.DEPARTED)
    assert staff.holds_books(active) and not staff.holds_books(departed)
    assert not staff.holds_books(_Staff(staff.Status.ACTIVE, role=staff.StaffRole.HQ))
    staff.check_not_departed(active, "associates/a-1")
    with pytest.raises(FailedPrecondition):
        staff.check_not_departed(departed, "associates/a-1")
    with pytest.raises(Aborted) as final:
        staff.check_changeable(departed, "associates/a-1")
    assert final.value.reason == "ASSOCIATE_DEPARTED"
