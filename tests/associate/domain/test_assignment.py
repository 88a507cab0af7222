"""The assignment rules, without a database."""

from __future__ import annotations

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
