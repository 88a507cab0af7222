"""The hand-over plan, without a database: who takes which customer of a chunk, the book
sizes that follow, the history and events of a chunk, and who may be a successor."""

from __future__ import annotations

import pytest

from servicekit.auth import Principal
from servicekit.auth import Role as CallerRole
from servicekit.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.associate.domain import handover
from services.associate.domain.assignment import Candidate, Reason, Role
from services.associate.domain.handover import Move


def test_spread_hands_out_by_load_deterministically():
    moves = handover.spread(
        [f"c{i}" for i in range(6)], [Candidate("x", 4, 10), Candidate("y", 0, 10), Candidate("z", 0, 20)]
    )
    counts = {a: sum(1 for _, b in moves if b == a) for a in "xyz"}
    # y and z start empty; z has twice the room, so it takes more; x is already loaded.
    assert counts == {"x": 0, "y": 2, "z": 4}
    assert moves == handover.spread(
        [f"c{i}" for i in range(6)], [Candidate("z", 0, 20), Candidate("y", 0, 10), Candidate("x", 4, 10)]
    )


def test_spread_without_capacity_still_spreads_and_nobody_means_no_moves():
    moves = handover.spread(["c1", "c2"], [Candidate("a", 0, 0), Candidate("b", 0, 0)])
    assert sorted(a for _, a in moves) == ["a", "b"]
    assert handover.spread(["c1"], []) == []


def test_a_named_successor_takes_the_whole_chunk_whatever_the_loads():
    plan = handover.plan_primaries(["c1", "c2"], successor="s", candidates=[Candidate("a", 0, 100)])
    assert plan == [Move("c1", "s"), Move("c2", "s")]


def test_without_a_successor_the_store_takes_the_chunk_by_load():
    plan = handover.plan_primaries(
        ["c1", "c2", "c3"], successor=None, candidates=[Candidate("a", 9, 10), Candidate("b", 0, 10)]
    )
    assert [m.associate_id for m in plan] == ["b", "b", "b"]  # a is nearly full: b stays the least loaded


def test_a_store_without_colleagues_sends_the_chunk_to_the_pool():
    assert handover.plan_primaries(["c1", "c2"], successor=None, candidates=[]) == [Move("c1", None), Move("c2", None)]


def test_book_sizes_follow_the_chunk():
    moves = [Move("c1", "a"), Move("c2", "b"), Move("c3", "a"), Move("c4", None)]
    assert handover.book_size_deltas("gone", moves) == {"gone": -4, "a": 2, "b": 1}


def test_a_chunk_of_primaries_records_promotions_then_one_change_per_customer():
    moves = [Move("c1", "a"), Move("c2", None)]
    changes = handover.primary_changes("gone", moves, promoted=[("c1", "a")], stores={"a": "paris"})
    assert [(c.customer_id, c.role, c.previous, c.associate, c.store) for c in changes] == [
        ("c1", Role.SECONDARY, "a", "", ""),
        ("c1", Role.PRIMARY, "gone", "a", "stores/paris"),
        ("c2", Role.PRIMARY, "gone", "", ""),
    ]
    assert {(c.reason, c.note) for c in changes} == {(Reason.HAND_OVER, "hand-over from associates/gone")}


def test_her_secondary_holdings_simply_end():
    changes = handover.secondary_changes("gone", ["c1"])
    assert [(c.role, c.previous, c.associate, c.reason) for c in changes] == [
        (Role.SECONDARY, "gone", "", Reason.HAND_OVER)
    ]


def test_primaries_move_before_secondary_holdings():
    assert handover.ORDER == (Role.PRIMARY, Role.SECONDARY)
    assert handover.CHUNK_SIZE > 0


class _Staff:
    def __init__(self, store_id: str, role: int = 1, status: int = 1):
        self.id, self.store_id, self.role, self.status = "s", store_id, role, status


MANAGER = Principal("staff/m", CallerRole.MANAGER, associate_id="m-1", store="stores/paris")
HQ = Principal("staff/hq", CallerRole.HQ)


def test_a_successor_exists_holds_books_and_works_in_the_store():
    handover.check_successor(MANAGER, "associates/s", _Staff("paris"), "stores/paris")
    handover.check_successor(HQ, "associates/s", _Staff("milan"), "stores/paris")
    with pytest.raises(InvalidArgument):
        handover.check_successor(MANAGER, "associates/s", None, "stores/paris")
    with pytest.raises(FailedPrecondition) as inactive:
        handover.check_successor(MANAGER, "associates/s", _Staff("paris", status=2), "stores/paris")
    assert inactive.value.reason == "SUCCESSOR_INACTIVE"
    with pytest.raises(FailedPrecondition):
        handover.check_successor(HQ, "associates/s", _Staff("paris", role=3), "stores/paris")
    with pytest.raises(PermissionDenied):
        handover.check_successor(MANAGER, "associates/s", _Staff("milan"), "stores/paris")
