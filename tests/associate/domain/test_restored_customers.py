"""Who holds a customer an unmerge brought back (domain.assignment.for_restored_customer,
audit item 28), no database."""

from __future__ import annotations

from services.associate.domain.assignment import Candidate, Decision, Reason, for_restored_customer

CANDIDATES = [Candidate("a-busy", 9, 10), Candidate("a-free", 1, 10)]


def test_her_previous_primary_takes_her_back_for_the_reason_she_had_her():
    before = Decision("a-old", Reason.REFERRAL)
    decision = for_restored_customer(
        before=before, before_holds_books=True, home_store="stores/s1", candidates=CANDIDATES
    )
    assert decision == before


def test_a_previous_primary_who_no_longer_holds_books_gives_way_to_the_store_rule_then_the_pool():
    before = Decision("a-gone", Reason.TRANSFER)
    assert for_restored_customer(
        before=before, before_holds_books=False, home_store="stores/s1", candidates=CANDIDATES
    ) == Decision("a-free", Reason.STORE_RULE)
    assert for_restored_customer(
        before=before, before_holds_books=False, home_store="stores/s1", candidates=[]
    ) == Decision(None, Reason.HQ_POOL)
    assert for_restored_customer(before=None, before_holds_books=False, home_store="", candidates=CANDIDATES) == (
        Decision(None, Reason.HQ_POOL)
    )
