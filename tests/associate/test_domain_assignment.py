"""The assignment rules, without a database."""

from __future__ import annotations

from services.associate.domain import assignment as rules
from services.associate.domain.assignment import Candidate


def test_least_loaded_is_relative_to_capacity():
    best = rules.least_loaded([Candidate("a", 10, 10), Candidate("b", 15, 30), Candidate("c", 9, 10)])
    assert best.associate_id == "b"


def test_ties_go_to_the_smallest_id_and_zero_capacity_never_wins():
    assert rules.least_loaded([Candidate("b", 0, 10), Candidate("a", 0, 20), Candidate("c", 0, 0)]).associate_id == "a"
    assert rules.least_loaded([Candidate("z", 0, 0)]) is None


def test_referral_beats_the_store_rule_and_no_store_goes_to_the_pool():
    candidates = [Candidate("a", 0, 10)]
    assert rules.for_new_customer(referral="r", home_store="stores/x", candidates=candidates) == rules.Decision("r", rules.REFERRAL)
    assert rules.for_new_customer(referral=None, home_store="stores/x", candidates=candidates) == rules.Decision("a", rules.STORE_RULE)
    assert rules.for_new_customer(referral=None, home_store="", candidates=candidates) == rules.Decision(None, rules.HQ_POOL)
    # A store without anyone taking clients parks her in the pool too.
    assert rules.for_new_customer(referral=None, home_store="stores/x", candidates=[]) == rules.Decision(None, rules.HQ_POOL)


def test_scan_binds_only_over_automatic_placements():
    assert rules.scan_binds(None, None, "a")
    assert rules.scan_binds("b", rules.STORE_RULE, "a")
    assert rules.scan_binds("b", rules.HQ_POOL, "a")
    assert not rules.scan_binds("b", rules.REFERRAL, "a")
    assert not rules.scan_binds("b", rules.TRANSFER, "a")
    assert not rules.scan_binds("a", rules.STORE_RULE, "a")


def test_spread_hands_out_by_load_deterministically():
    moves = rules.spread([f"c{i}" for i in range(6)], [Candidate("x", 4, 10), Candidate("y", 0, 10), Candidate("z", 0, 20)])
    counts = {a: sum(1 for _, b in moves if b == a) for a in "xyz"}
    # y and z start empty; z has twice the room, so it takes more; x is already loaded.
    assert counts == {"x": 0, "y": 2, "z": 4}
    assert moves == rules.spread([f"c{i}" for i in range(6)], [Candidate("z", 0, 20), Candidate("y", 0, 10), Candidate("x", 4, 10)])


def test_spread_without_capacity_still_spreads_and_nobody_means_no_moves():
    moves = rules.spread(["c1", "c2"], [Candidate("a", 0, 0), Candidate("b", 0, 0)])
    assert sorted(a for _, a in moves) == ["a", "b"]
    assert rules.spread(["c1"], []) == []
