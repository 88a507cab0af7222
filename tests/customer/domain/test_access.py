"""Who may do what with a customer (services/customer/domain/access.py), no database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from servicekit.auth import SYSTEM, Principal, Role
from servicekit.callers import Standing, check_standing
from servicekit.errors import PermissionDenied
from services.customer.domain import access
from services.customer.domain.directory import StaffRecord

PARIS, LYON = "stores/paris", "stores/lyon"
ASSOCIATE = Principal(subject="associates/a-1", role=Role.ASSOCIATE, associate_id="a-1", store=PARIS)
MANAGER = Principal(subject="staff/m-1", role=Role.MANAGER, associate_id="m-1", store=PARIS)
HQ = Principal(subject="staff/hq", role=Role.HQ)
NAME = "customers/c-1"
R = access.Reach


def reason(call, *args) -> str:
    with pytest.raises(PermissionDenied) as caught:
        call(*args)
    return caught.value.reason


def test_store_scope():
    assert access.store_scope(ASSOCIATE) == PARIS
    assert access.store_scope(MANAGER) == PARIS
    assert access.store_scope(HQ) is None
    assert access.store_scope(SYSTEM) is None


def test_managers_reach_only_their_store():
    access.check_read(MANAGER, R(PARIS), NAME)
    access.check_write(MANAGER, R(PARIS), NAME)
    assert reason(access.check_read, MANAGER, R(LYON), NAME) == "CUSTOMER_OUT_OF_SCOPE"
    assert reason(access.check_write, MANAGER, R(LYON), NAME) == "CUSTOMER_OUT_OF_SCOPE"
    assert reason(access.check_read, MANAGER, R(""), NAME) == "CUSTOMER_OUT_OF_SCOPE"


def test_associates_reach_the_customers_they_hold_in_any_store():
    for store in (PARIS, LYON, ""):
        access.check_read(ASSOCIATE, R(store, frozenset({"a-1"})), NAME)
        access.check_write(ASSOCIATE, R(store, frozenset({"a-2", "a-1"})), NAME)
    # Her store is not enough: a colleague's client is out of reach.
    assert reason(access.check_read, ASSOCIATE, R(PARIS, frozenset({"a-2"})), NAME) == "CUSTOMER_OUT_OF_SCOPE"
    assert reason(access.check_write, ASSOCIATE, R(PARIS), NAME) == "CUSTOMER_OUT_OF_SCOPE"


def test_missing_customers_look_denied_to_store_and_book_bound_callers():
    assert isinstance(access.missing(ASSOCIATE, NAME), PermissionDenied)
    assert isinstance(access.missing(MANAGER, NAME), PermissionDenied)
    assert not isinstance(access.missing(HQ, NAME), PermissionDenied)


def test_the_creating_associate_holds_provisionally():
    assert access.provisional_holder(ASSOCIATE) == "a-1"
    assert access.provisional_holder(MANAGER) is None
    assert access.provisional_holder(HQ) is None


@pytest.mark.parametrize("caller", [HQ, SYSTEM])
def test_hq_and_services_reach_every_store(caller):
    for store in (PARIS, LYON, ""):
        access.check_read(caller, R(store), NAME)
        access.check_write(caller, R(store), NAME)
        access.check_create(caller, store)
        access.check_delete(caller, R(store), NAME)
    access.check_move(caller, PARIS, LYON, NAME)


def test_create_only_in_own_store():
    access.check_create(ASSOCIATE, PARIS)
    access.check_create(MANAGER, PARIS)
    assert reason(access.check_create, ASSOCIATE, LYON) == "STORE_OUT_OF_SCOPE"
    assert reason(access.check_create, MANAGER, LYON) == "STORE_OUT_OF_SCOPE"
    assert reason(access.check_create, ASSOCIATE, "") == "STORE_OUT_OF_SCOPE"


@pytest.mark.parametrize("caller", [ASSOCIATE, MANAGER])
def test_only_hq_moves_customers(caller):
    access.check_move(caller, PARIS, PARIS, NAME)
    assert reason(access.check_move, caller, PARIS, LYON, NAME) == "STORE_CHANGE_DENIED"


def test_associates_never_delete():
    assert reason(access.check_delete, ASSOCIATE, R(PARIS), NAME) == "ROLE_DENIED"
    access.check_delete(MANAGER, R(PARIS), NAME)
    assert reason(access.check_delete, MANAGER, R(LYON), NAME) == "CUSTOMER_OUT_OF_SCOPE"


def test_denial_names_the_resource():
    with pytest.raises(PermissionDenied) as caught:
        access.check_read(ASSOCIATE, R(LYON), NAME)
    assert caught.value.metadata == {"resource": NAME}


def test_scope_of_lists_and_searches():
    assert access.scope(ASSOCIATE) == access.Scope(associate="a-1")
    assert access.scope(MANAGER) == access.Scope(store=PARIS)
    assert access.scope(HQ) == access.Scope()


# -- the caller's standing (audit item 7): the directory's record, judged by the gate ------


def staff(store: str, role: str, active: bool) -> Standing | None:
    """What the caller gate judges of a member of staff the directory knows with these words."""
    status = "active" if active else "departed"
    return access.standing(StaffRecord("a-1", store, role, status, "", datetime(2026, 1, 1, tzinfo=UTC)))


ACTIVE_ASSOCIATE = staff(PARIS, "associate", active=True)


def test_an_active_member_of_staff_of_the_tokens_store_passes():
    check_standing(ASSOCIATE, ACTIVE_ASSOCIATE)
    check_standing(MANAGER, staff(PARIS, "manager", active=True))


def test_a_departed_or_absent_member_of_staff_can_do_nothing():
    for status_role in ("associate", "manager"):
        gone = staff(PARIS, status_role, active=False)
        assert reason(check_standing, ASSOCIATE, gone) == "CALLER_INACTIVE"
        assert reason(check_standing, MANAGER, gone) == "CALLER_INACTIVE"
    hq_staff = Principal(subject="staff/hq-2", role=Role.HQ, associate_id="hq-2")
    assert reason(check_standing, hq_staff, staff("", "hq", active=False)) == "CALLER_INACTIVE"
    check_standing(hq_staff, staff("", "hq", active=True))


def test_a_token_of_her_former_store_or_role_is_refused():
    moved = staff(LYON, "associate", active=True)
    assert reason(check_standing, ASSOCIATE, moved) == "CALLER_STORE_CHANGED"
    demoted = staff(PARIS, "associate", active=True)
    assert reason(check_standing, MANAGER, demoted) == "CALLER_ROLE_CHANGED"
    # A manager who kept an associate's token loses nothing by it.
    check_standing(ASSOCIATE, staff(PARIS, "manager", active=True))
    # An HQ token of someone the directory knows as store staff claims a role she does not hold.
    hq_token = Principal(subject="associates/a-1", role=Role.HQ, associate_id="a-1")
    assert reason(check_standing, hq_token, staff(PARIS, "manager", active=True)) == "CALLER_ROLE_CHANGED"


def test_an_unknown_member_of_staff_or_a_service_passes():
    assert access.standing(None) is None
    check_standing(ASSOCIATE, None)
    check_standing(HQ, None)
    check_standing(SYSTEM, staff("", "", active=False))
    # A token without an associate id has no standing to check.
    check_standing(HQ, staff("", "hq", active=False))


def test_the_directorys_words_are_the_gates_standing():
    assert staff(PARIS, "manager", active=True) == Standing(PARIS, Role.MANAGER, "active")
    assert staff("", "hq", active=False) == Standing("", Role.HQ, "departed")
    assert staff(PARIS, "", active=True) == Standing(PARIS, None, "active")


# -- what a caller learns of a taken contact point (audit item 8) ------------------------


def test_a_taken_contact_point_names_its_owner_only_to_who_reaches_her():
    theirs = access.contact_point_taken(MANAGER, "c-9", R(LYON), "mei@example.com")
    assert theirs.reason == "CONTACT_POINT_TAKEN"
    assert theirs.metadata == {"value": "mei@example.com"}
    assert "c-9" not in theirs.message
    ours = access.contact_point_taken(MANAGER, "c-9", R(PARIS), "mei@example.com")
    assert ours.metadata == {"value": "mei@example.com", "existing_customer": "customers/c-9"}
    assert access.contact_point_taken(HQ, "c-9", R(LYON), "x").metadata["existing_customer"] == "customers/c-9"
    assert "existing_customer" not in access.contact_point_taken(HQ, "", None, "x").metadata
