"""Merges: what they do to the survivor and how that is undone, duplicate scores
(services/customer/domain/merging.py), no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from servicekit.errors import FailedPrecondition, Violations
from services.customer.domain import merging


def test_merge_fills_and_extends_and_revert_takes_back_only_that():
    survivor = {
        "given_name": "Hélène",
        "family_name": "",
        "preferred_name": "",
        "locale": "fr-FR",
        "home_store": "stores/paris",
        "tier": 0,
        "tags": ["press"],
        "preferences": [],
        "important_dates": [],
    }
    duplicate = {**survivor, "given_name": "Helene", "family_name": "Laurent", "tier": 3, "tags": ["vip", "press"]}
    values, changes = merging.combine(survivor, duplicate)
    assert values == {"family_name": "Laurent", "tier": 3, "tags": ["press", "vip"]}
    after = {**survivor, **values, "tags": ["press", "vip", "later"], "family_name": "Laurent-Dupont"}
    assert merging.revert(after, changes) == {"tier": 0, "tags": ["press", "later"]}


def test_scores_add_up_without_exceeding_one():
    assert merging.score([1]) == 0.9
    assert 0.9 < merging.score([1, 4]) < 1.0


def test_candidates_rank_best_first_older_customer_first_below_the_bar_dropped():
    pairs = [
        merging.Pair("b", "a", x_older=False, reasons=[4], details=["mei wang / mei wang"]),
        merging.Pair("c", "d", x_older=True, reasons=[1, 4], details=["+33600000001", "x / y"]),
        merging.Pair("e", "f", x_older=True, reasons=[9], details=["?"]),  # unknown reason: 0.5
    ]
    ranked = merging.rank(pairs, min_score=0.6, limit=10)
    assert [(c.customer, c.other) for c in ranked] == [("c", "d"), ("a", "b")]
    assert ranked[0].reasons == ((1, "+33600000001"), (4, "x / y"))
    assert [c.customer for c in merging.rank(pairs, min_score=0.0, limit=2)] == ["c", "a"]


def test_a_customer_is_not_merged_into_herself():
    violations = Violations()
    merging.check_distinct("c-1", "c-1", violations)
    assert [f for f, _ in violations.items] == ["duplicate"]
    violations = Violations()
    merging.check_distinct("c-1", "c-2", violations)
    merging.check_distinct("", "", violations)  # unreadable names are reported on their own
    assert violations.items == []


UNDOABLE = merging.UndoFacts(undo_time=None, erased=False, later_merge=None, survivor_exists=True)


def test_an_undoable_merge_passes():
    merging.check_undo("merges/m-1", "customers/c-1", UNDOABLE)


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        (replace(UNDOABLE, undo_time=datetime(2026, 1, 1, tzinfo=UTC)), "MERGE_ALREADY_UNDONE"),
        (replace(UNDOABLE, erased=True), "CUSTOMER_ERASED"),
        (replace(UNDOABLE, later_merge="m-2"), "LATER_MERGE_DEPENDS"),
        (replace(UNDOABLE, survivor_exists=False), "SURVIVOR_GONE"),
        # The first reason that applies is the one given.
        (merging.UndoFacts(datetime(2026, 1, 1), True, "m-2", False), "MERGE_ALREADY_UNDONE"),
        (merging.UndoFacts(None, False, "m-2", False), "LATER_MERGE_DEPENDS"),
    ],
)
def test_a_merge_cannot_be_undone_when(facts, reason):
    with pytest.raises(FailedPrecondition) as refused:
        merging.check_undo("merges/m-1", "customers/c-1", facts)
    assert refused.value.reason == reason
    assert refused.value.metadata["merge"] == "merges/m-1"
