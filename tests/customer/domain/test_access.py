"""Who may do what with a customer (services/customer/domain/access.py), no database."""

from __future__ import annotations

import pytest

from servicekit.auth import SYSTEM, Principal, Role
from servicekit.errors import PermissionDenied
from services.customer.domain import access

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
