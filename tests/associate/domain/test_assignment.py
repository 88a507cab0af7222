"""The assignment rules, without a database."""

from __future__ import annotations

import pytest

from services.associate.domain import assignment as rules
from services.associate.domain.assignment import Candidate, Holding, Reason, Role


def test_least_loaded_is_relative_to_capacity():
    best = rules.least_loaded([Candidate("a", 10, 10), Candidate("b", 15, 30), Candidate("c", 9, 10)])
    assert best.associate_id == "b"


def test_ties_go_to_the_smallest_id_and_zero_capacity_never_wins():
    assert rules.least_loaded([Candidate("b", 0, 10), Candidate("a", 0, 20), Candidate("c", 0, 0)]).associate_id == "a"
    assert rules.least_loaded([Candidate("z", 0, 0)]) is None


def test_referral_beats_the_store_rule_and_no_store_goes_to_the_pool():
    candidates = [Candidate("a", 0, 10)]
    assert rules.for_new_customer(referral="r", home_store="stores/x", candidates=candidates) == rules.Decision(
        "r", Reason.REFERRAL
    )
    assert rules.for_new_customer(referral=None, home_store="stores/x", candidates=candidates) == rules.Decision(
        "a", Reason.STORE_RULE
    )
    assert rules.for_new_customer(referral=None, home_store="", candidates=candidates) == rules.Decision(
        None, Reason.HQ_POOL
    )
    # A store without anyone taking clients parks her in the pool too.
    assert rules.for_new_customer(referral=None, home_store="stores/x", candidates=[]) == rules.Decision(
        None, Reason.HQ_POOL
    )


def test_scan_binds_only_over_automatic_placements():
    assert rules.scan_binds(None, None, "a")
    assert rules.scan_binds("b", Reason.STORE_RULE, "a")
    assert rules.scan_binds("b", Reason.HQ_POOL, "a")
    assert not rules.scan_binds("b", Reason.REFERRAL, "a")
    assert not rules.scan_binds("b", Reason.TRANSFER, "a")
    assert not rules.scan_binds("a", Reason.STORE_RULE, "a")


def _holding(primary=None, reason=None, secondaries=(), pool=None) -> Holding:
    return Holding(primary, reason, None, tuple(secondaries), pool, None)


def test_a_primary_held_as_asked_is_unchanged():
    assert rules.primary_unchanged(_holding("a", Reason.REFERRAL), "a")
    assert rules.primary_unchanged(_holding(pool=Reason.HQ_POOL), None)
    assert not rules.primary_unchanged(_holding(), None)  # nobody holds her, not even the pool
    assert not rules.primary_unchanged(_holding("a", Reason.REFERRAL), "b")


def test_a_promoted_secondary_ends_her_secondary_holding_first():
    current = _holding("a", Reason.STORE_RULE, secondaries=("b", "c"))
    changes = rules.new_primary_changes(current, "c-1", "b", "stores/x", Reason.TRANSFER, "why")
    assert [(c.role, c.previous, c.associate, c.store) for c in changes] == [
        (Role.SECONDARY, "b", "", ""),
        (Role.PRIMARY, "a", "b", "stores/x"),
    ]
    to_pool = rules.new_primary_changes(_holding("a", Reason.STORE_RULE), "c-1", None, "", Reason.HQ_POOL, "")
    assert [(c.role, c.previous, c.associate) for c in to_pool] == [(Role.PRIMARY, "a", "")]


def test_removal_ends_every_holding():
    changes = rules.removal_changes(_holding("a", Reason.CLAIM, ("b",)), "c-1", Reason.CUSTOMER_REMOVED, "erased")
    assert [(c.role, c.previous, c.associate, c.note) for c in changes] == [
        (Role.PRIMARY, "a", "", "erased"),
        (Role.SECONDARY, "b", "", "erased"),
    ]
    assert rules.removal_changes(_holding(pool=Reason.HQ_POOL), "c-1", Reason.CUSTOMER_REMOVED, "") == []


def test_a_merge_keeps_the_survivors_primary_and_adds_the_duplicates_secondaries():
    duplicate = _holding("a", Reason.REFERRAL, ("b",))
    assert rules.followers_after_merge(duplicate, _holding()) == ("a", ("b",))
    assert rules.followers_after_merge(duplicate, _holding("z", Reason.CLAIM)) == (None, ("b",))


PARIS, MILAN = "stores/paris", "stores/milan"


def test_a_scan_binds_within_one_store_over_a_rule_not_over_a_person():
    """Audit item 5 and the rule it keeps: a scan of an associate of her store moves a
    customer the store rule placed, never one a person placed."""
    ruled = _holding("a", Reason.STORE_RULE)
    assert rules.after_scan(ruled, "b", PARIS, PARIS, {PARIS}) == rules.ScanDecision(rules.ScanOutcome.BIND)
    referred = _holding("a", Reason.REFERRAL)
    assert rules.after_scan(referred, "b", PARIS, PARIS, {PARIS}).outcome is rules.ScanOutcome.STAYS
    assert rules.after_scan(ruled, "a", PARIS, PARIS, {PARIS}).outcome is rules.ScanOutcome.STAYS


@pytest.mark.parametrize("reason", [Reason.STORE_RULE, Reason.HQ_POOL, Reason.REFERRAL, Reason.TRANSFER])
def test_a_scan_of_another_stores_associate_moves_nobody_and_tells_her_stores_manager(reason):
    held = _holding("a", reason)
    assert rules.after_scan(held, "x", MILAN, PARIS, {PARIS}) == rules.ScanDecision(rules.ScanOutcome.REFER, PARIS)


def test_a_pool_customer_is_bound_by_a_scan_in_her_home_store_or_when_she_has_none():
    pooled = _holding(pool=Reason.HQ_POOL)
    assert rules.after_scan(pooled, "b", PARIS, PARIS, set()).outcome is rules.ScanOutcome.BIND
    assert rules.after_scan(pooled, "b", MILAN, "", set()).outcome is rules.ScanOutcome.BIND
    assert rules.after_scan(pooled, "x", MILAN, PARIS, set()) == rules.ScanDecision(rules.ScanOutcome.REFER, PARIS)


def test_a_holder_in_another_store_keeps_a_scan_from_moving_her():
    """Her home store's associate scanned, but a secondary holder works elsewhere."""
    held = _holding("a", Reason.STORE_RULE, secondaries=("m",))
    decision = rules.after_scan(held, "b", PARIS, PARIS, {PARIS, MILAN})
    assert decision == rules.ScanDecision(rules.ScanOutcome.REFER, PARIS)
    # Without a home store, the manager told is a holder's store's.
    assert rules.after_scan(_holding("m", Reason.STORE_RULE), "b", PARIS, "", {MILAN}).review_store == MILAN
