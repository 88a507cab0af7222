"""Who reaches a customer here (her assignment, transfers, claims, the pool, hand-overs),
without I/O: the facts a use case loads in, a decision out (audit items 1, 2, 8, 10)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from servicekit.auth import Principal, Role
from servicekit.errors import FailedPrecondition, NotFound, PermissionDenied
from services.associate.domain import access
from services.associate.domain.access import CustomerFacts
from services.associate.domain.staff import StaffRole, Status

PARIS_ASSOCIATE = Principal("associates/a-1", Role.ASSOCIATE, associate_id="a-1", store="stores/paris")
PARIS_MANAGER = Principal("staff/m", Role.MANAGER, associate_id="m-1", store="stores/paris")
MILAN_MANAGER = Principal("staff/m2", Role.MANAGER, associate_id="m-2", store="stores/milan")
MILAN_ASSOCIATE = Principal("associates/b-1", Role.ASSOCIATE, associate_id="b-1", store="stores/milan")
HQ = Principal("staff/hq", Role.HQ)
STAFF = (PARIS_ASSOCIATE, PARIS_MANAGER, MILAN_MANAGER, MILAN_ASSOCIATE)


def facts(home: str = "stores/paris", holders: dict[str, str] | None = None, known: bool = True) -> CustomerFacts:
    """`holders`: associate id → her store (full name)."""
    holders = holders if holders is not None else {"a-1": "stores/paris"}
    return CustomerFacts("customers/c-1", known, home, frozenset(holders), frozenset(holders.values()))


@dataclass(frozen=True)
class Member:
    id: str
    store_id: str
    role: int = StaffRole.ASSOCIATE
    status: int = Status.ACTIVE


def denial(check, *args) -> PermissionDenied:
    with pytest.raises(PermissionDenied) as denied:
        check(*args)
    return denied.value


def same(a: PermissionDenied, b: PermissionDenied) -> bool:
    return (a.code, a.reason, str(a), a.metadata) == (b.code, b.reason, str(b), b.metadata)


def test_her_holders_her_home_stores_manager_and_hq_reach_her():
    her = facts()
    for who in (PARIS_ASSOCIATE, PARIS_MANAGER, HQ):
        access.check_reach_customer(who, her)
    for who in (MILAN_MANAGER, MILAN_ASSOCIATE):
        denial(access.check_reach_customer, who, her)
    # A manager of a store holding her (not her home store) reaches her too.
    access.check_reach_customer(MILAN_MANAGER, facts(holders={"a-1": "stores/paris", "b-1": "stores/milan"}))


def test_a_customer_nobody_heard_of_answers_staff_like_one_out_of_reach_and_hq_not_found():
    nobody = facts(home="", holders={}, known=False)
    for who in STAFF:
        assert same(
            denial(access.check_reach_customer, who, nobody),
            denial(access.check_reach_customer, who, facts(home="stores/rome", holders={})),
        )
    with pytest.raises(NotFound):
        access.check_reach_customer(HQ, nobody)


@pytest.mark.parametrize(
    "her",
    [
        facts(holders={"a-1": "stores/paris", "b-1": "stores/milan"}),  # a holder elsewhere
        facts(home="stores/milan"),  # her home store is another's
        facts(home="", holders={}),  # nobody's: the headquarters pool
    ],
)
def test_a_manager_transfers_only_when_her_home_and_all_holders_stores_are_hers(her):
    """Whatever the role given (primary or secondary): the rule reads no role."""
    assert denial(access.check_transfer, PARIS_MANAGER, her).reason == "ROLE_DENIED"
    access.check_transfer(HQ, her)


def test_who_transfers_a_customer():
    access.check_transfer(PARIS_MANAGER, facts())
    access.check_transfer(PARIS_MANAGER, facts(holders={}))  # in her store's pool
    for who in (PARIS_ASSOCIATE, MILAN_MANAGER, MILAN_ASSOCIATE):
        denial(access.check_transfer, who, facts())


def test_a_transfer_of_a_customer_nobody_heard_of():
    nobody = facts(home="", holders={}, known=False)
    for who in STAFF:
        assert same(
            denial(access.check_transfer, who, nobody), denial(access.check_transfer, who, facts("stores/rome"))
        )
    with pytest.raises(NotFound):
        access.check_transfer(HQ, nobody)


@pytest.mark.parametrize(
    "her",
    [
        facts(holders={"a-1": "stores/paris", "b-1": "stores/milan"}),  # a holder elsewhere
        facts(home="stores/milan", holders={"b-1": "stores/milan", "a-1": "stores/paris"}),  # via a secondary only
        facts(home="", holders={}),  # nobody's: the headquarters pool
    ],
)
def test_a_manager_tasks_a_customer_only_when_her_home_and_all_holders_stores_are_hers(her):
    """The transfer's rule: reaching her through one holder of her store is not enough."""
    for who in (PARIS_MANAGER, MILAN_MANAGER):
        if who.store in her.stores or not her.stores:
            assert same(
                denial(access.check_task_on_customer, who, her),
                denial(access.check_reach_customer, who, facts("stores/rome", {})),
            )
    access.check_task_on_customer(HQ, her)


def test_who_tasks_a_customer():
    for who in (PARIS_ASSOCIATE, PARIS_MANAGER, HQ):
        access.check_task_on_customer(who, facts())
    access.check_task_on_customer(PARIS_MANAGER, facts(holders={}))  # in her store's pool
    for who in (MILAN_MANAGER, MILAN_ASSOCIATE):
        denial(access.check_task_on_customer, who, facts())
    # An associate of another store holding her as a secondary tasks her (she holds her).
    access.check_task_on_customer(MILAN_ASSOCIATE, facts(holders={"a-1": "stores/paris", "b-1": "stores/milan"}))
    nobody = facts(home="", holders={}, known=False)
    for who in STAFF:
        assert same(
            denial(access.check_task_on_customer, who, nobody), denial(access.check_reach_customer, who, nobody)
        )
    with pytest.raises(NotFound):
        access.check_task_on_customer(HQ, nobody)


def test_who_receives_a_customer():
    access.check_receiver(PARIS_MANAGER, Member("a-2", "paris"), "associates/a-2")
    access.check_receiver(PARIS_MANAGER, Member("m-1", "paris", role=StaffRole.MANAGER), "associates/m-1")
    access.check_receiver(HQ, Member("b-2", "milan"), "associates/b-2")
    assert denial(access.check_receiver, PARIS_MANAGER, Member("b-2", "milan"), "associates/b-2").reason == (
        "ROLE_DENIED"
    )
    for member, reason in (
        (Member("a-3", "paris", status=Status.DEPARTED), "ASSOCIATE_DEPARTED"),
        (Member("a-4", "paris", status=Status.ON_LEAVE), "ASSOCIATE_NOT_ACTIVE"),
        (Member("h-1", "paris", role=StaffRole.HQ), "ASSOCIATE_NOT_ACTIVE"),
    ):
        for who in (PARIS_MANAGER, HQ):
            with pytest.raises(FailedPrecondition) as refused:
                access.check_receiver(who, member, f"associates/{member.id}")
            assert refused.value.reason == reason


def test_only_staff_of_her_home_store_claim_her():
    pooled = facts(holders={})
    access.check_claim_customer(PARIS_ASSOCIATE, pooled)
    access.check_claim_customer(PARIS_MANAGER, pooled)
    out_of_reach = denial(access.check_claim_customer, MILAN_ASSOCIATE, pooled)
    assert out_of_reach.reason == "CUSTOMER_OUT_OF_SCOPE"
    denial(access.check_claim_customer, MILAN_MANAGER, pooled)
    denial(access.check_claim_customer, PARIS_ASSOCIATE, facts(home="", holders={}))
    nobody = facts(home="", holders={}, known=False)
    for who in STAFF:
        assert same(
            denial(access.check_claim_customer, who, nobody),
            denial(access.check_claim_customer, who, facts("stores/rome", holders={})),
        )
    denial(access.check_claim, HQ)


def test_a_claim_is_decided_by_her_home_stores_manager_or_hq():
    access.check_decide_claim(PARIS_MANAGER, "stores/paris", "claims/x")
    access.check_decide_claim(HQ, "stores/milan", "claims/x")
    access.check_decide_claim(HQ, "", "claims/x")
    for who, home in ((MILAN_MANAGER, "stores/paris"), (PARIS_ASSOCIATE, "stores/paris"), (PARIS_MANAGER, "")):
        denial(access.check_decide_claim, who, home, "claims/x")


def test_a_missing_claim_or_hand_over_answers_staff_like_one_out_of_reach():
    for who in STAFF:
        assert same(
            access.missing_claim(who, "claims/x"), denial(access.check_decide_claim, who, "stores/rome", "claims/x")
        )
        assert same(
            access.missing_hand_over(who, "handOvers/x"),
            denial(access.check_see_hand_over, who, "stores/rome", "handOvers/x"),
        )
    assert isinstance(access.missing_claim(HQ, "claims/x"), NotFound)
    assert isinstance(access.missing_hand_over(HQ, "handOvers/x"), NotFound)


def test_whose_pool_a_caller_lists():
    assert access.pool_scope(HQ) is None
    assert access.pool_scope(PARIS_MANAGER) == "stores/paris"
    assert access.pool_scope(MILAN_MANAGER) == "stores/milan"
    assert denial(access.pool_scope, PARIS_ASSOCIATE).reason == "ROLE_DENIED"
    denial(access.pool_scope, Principal("staff/m", Role.MANAGER, associate_id="m-1", store=""))
