"""Authorisation per role and authentication of the caller's principal."""

from __future__ import annotations

import secrets

import grpc
import pytest
from google.protobuf import field_mask_pb2

from atelier.common.v1 import common_pb2
from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from servicekit.auth import PRINCIPAL_METADATA_KEY, SYSTEM, Principal, Role, mint_internal_token
from tests.conftest import INTERNAL_SECRET, associate, hq, manager
from tests.customer.support import (
    TIMEOUT,
    assert_unchanged,
    create,
    customer,
    denied_reason,
    error_info,
    get,
    invalid_fields,
    known_store,
    md,
    new_store,
    phone,
    rpc_error,
    snapshot,
    unique_phone,
)


def mask(*paths):
    return field_mask_pb2.FieldMask(paths=list(paths))


def calls_on(stub, target: customer_pb2.Customer):
    """Every RPC that reaches one existing customer, as (label, metadata -> awaitable)."""
    name = target.name
    return [
        ("get", lambda m: stub.GetCustomer(api.GetCustomerRequest(name=name), metadata=m, timeout=TIMEOUT)),
        (
            "update",
            lambda m: stub.UpdateCustomer(
                api.UpdateCustomerRequest(
                    customer=customer_pb2.Customer(name=name, given_name="X"), update_mask=mask("given_name")
                ),
                metadata=m,
                timeout=TIMEOUT,
            ),
        ),
        ("delete", lambda m: stub.DeleteCustomer(api.DeleteCustomerRequest(name=name), metadata=m, timeout=TIMEOUT)),
        (
            "grant",
            lambda m: stub.GrantConsent(
                api.GrantConsentRequest(
                    name=name, channel=common_pb2.CHANNEL_EMAIL, purpose=common_pb2.PURPOSE_MARKETING, source="web-form"
                ),
                metadata=m,
                timeout=TIMEOUT,
            ),
        ),
        (
            "withdraw",
            lambda m: stub.WithdrawConsent(
                api.WithdrawConsentRequest(
                    name=name, channel=common_pb2.CHANNEL_EMAIL, purpose=common_pb2.PURPOSE_MARKETING, source="web-form"
                ),
                metadata=m,
                timeout=TIMEOUT,
            ),
        ),
        (
            "consent-history",
            lambda m: stub.ListConsentChanges(api.ListConsentChangesRequest(parent=name), metadata=m, timeout=TIMEOUT),
        ),
        (
            "create-note",
            lambda m: stub.CreateNote(
                api.CreateNoteRequest(parent=name, note=customer_pb2.Note(text="hello")), metadata=m, timeout=TIMEOUT
            ),
        ),
        ("list-notes", lambda m: stub.ListNotes(api.ListNotesRequest(parent=name), metadata=m, timeout=TIMEOUT)),
    ]


@pytest.mark.parametrize("role", ["associate", "manager"])
async def test_store_staff_cannot_reach_a_customer_of_another_store(customer_service, customer_stub, db, role):
    their_store = await known_store(customer_service)
    target = await create(customer_stub, home_store=their_store, contact_points=[phone(unique_phone("FR")[0])])
    await customer_stub.CreateNote(
        api.CreateNoteRequest(parent=target.name, note=customer_pb2.Note(text="secret")),
        metadata=md(hq()),
        timeout=TIMEOUT,
    )
    outsider = (
        associate(await known_store(customer_service))
        if role == "associate"
        else manager(await known_store(customer_service))
    )
    before = await snapshot(db)
    for label, call in calls_on(customer_stub, target):
        exc = await rpc_error(call(md(outsider)))
        assert exc.code() == grpc.StatusCode.PERMISSION_DENIED, label
        info = error_info(exc)
        expected = "ROLE_DENIED" if (label, role) == ("delete", "associate") else "CUSTOMER_OUT_OF_SCOPE"
        assert info.reason == expected, label
        assert info.metadata["resource"] == target.name
        assert "secret" not in exc.details() and target.given_name not in exc.details()
    await assert_unchanged(db, before)
    assert await get(customer_stub, target.name) == target


@pytest.mark.parametrize("role", ["associate", "manager"])
async def test_store_staff_reach_customers_of_their_store(customer_service, customer_stub, role):
    """A manager reaches every customer of her store; an associate the customers she
    holds (here: the one she created, held provisionally until the assignment event)."""
    store = await known_store(customer_service)
    staff = associate(store) if role == "associate" else manager(store)
    target = await create(customer_stub, staff if role == "associate" else None, home_store=store)
    for label, call in calls_on(customer_stub, target):
        if label == "delete":
            continue
        await call(md(staff))
    assert (await get(customer_stub, target.name, staff)).given_name == "X"


async def test_associate_cannot_delete_even_in_her_store(customer_service, customer_stub, db):
    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    before = await snapshot(db)
    reason = await denied_reason(
        customer_stub.DeleteCustomer(
            api.DeleteCustomerRequest(name=target.name), metadata=md(associate(store)), timeout=TIMEOUT
        )
    )
    assert reason == "ROLE_DENIED"
    await assert_unchanged(db, before)


async def test_manager_deletes_in_her_store(customer_service, customer_stub):
    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    await customer_stub.DeleteCustomer(
        api.DeleteCustomerRequest(name=target.name), metadata=md(manager(store)), timeout=TIMEOUT
    )
    assert (await rpc_error(get(customer_stub, target.name))).code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("role", ["associate", "manager"])
async def test_store_staff_create_only_in_their_store(customer_service, customer_stub, db, role):
    store = await known_store(customer_service)
    staff = associate(store) if role == "associate" else manager(store)
    before = await snapshot(db)
    other = await known_store(customer_service)
    exc = await rpc_error(create(customer_stub, staff, home_store=other))
    assert exc.code() == grpc.StatusCode.PERMISSION_DENIED
    info = error_info(exc)
    assert info.reason == "STORE_OUT_OF_SCOPE"
    assert info.metadata["home_store"] == other
    await assert_unchanged(db, before)
    mine = await create(customer_stub, staff, home_store=store)
    assert mine.home_store == store


async def test_create_without_home_store_lands_in_the_associates_store(customer_service, customer_stub):
    store = await known_store(customer_service)
    created = await create(customer_stub, associate(store))
    assert created.home_store == store
    assert (await get(customer_stub, created.name, associate(store))).home_store == store
    # A colleague of the same store does not hold her, so she does not reach her.
    assert (
        await rpc_error(get(customer_stub, created.name, associate(store, "a-2")))
    ).code() == grpc.StatusCode.PERMISSION_DENIED


async def test_hq_create_without_home_store_has_no_store(customer_service, customer_stub):
    created = await create(customer_stub, hq())
    assert created.home_store == ""
    exc = await rpc_error(get(customer_stub, created.name, associate(await known_store(customer_service))))
    assert exc.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_manager_cannot_move_a_customer_hq_can(customer_service, customer_stub, db):
    store, elsewhere = await known_store(customer_service), await known_store(customer_service)
    target = await create(customer_stub, associate(store), home_store=store)  # the associate holds her
    move = api.UpdateCustomerRequest(
        customer=customer_pb2.Customer(name=target.name, home_store=elsewhere), update_mask=mask("home_store")
    )
    for staff in (manager(store), associate(store)):
        before = await snapshot(db)
        exc = await rpc_error(customer_stub.UpdateCustomer(move, metadata=md(staff), timeout=TIMEOUT))
        assert exc.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_info(exc).reason == "STORE_CHANGE_DENIED"
        await assert_unchanged(db, before)
    # Keeping the same store is not a move.
    stay = api.UpdateCustomerRequest(
        customer=customer_pb2.Customer(name=target.name, home_store=store, tier=customer_pb2.TIER_VIP),
        update_mask=mask("home_store", "tier"),
    )
    assert (
        await customer_stub.UpdateCustomer(stay, metadata=md(manager(store)), timeout=TIMEOUT)
    ).tier == customer_pb2.TIER_VIP
    moved = await customer_stub.UpdateCustomer(move, metadata=md(hq()), timeout=TIMEOUT)
    assert moved.home_store == elsewhere
    # The old store's staff lose her, the new store's staff gain her.
    assert (
        await rpc_error(get(customer_stub, target.name, manager(store)))
    ).code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await get(customer_stub, target.name, manager(elsewhere))).home_store == elsewhere


async def test_a_star_update_by_a_manager_cannot_move_the_customer(customer_service, customer_stub):
    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    request = api.UpdateCustomerRequest(customer=customer(name=target.name, home_store=""), update_mask=mask("*"))
    assert (
        await denied_reason(customer_stub.UpdateCustomer(request, metadata=md(manager(store)), timeout=TIMEOUT))
        == "STORE_CHANGE_DENIED"
    )


async def test_internal_services_reach_every_store(customer_service, customer_stub):
    target = await create(customer_stub, home_store=await known_store(customer_service))
    assert await get(customer_stub, target.name, SYSTEM) == target


def _all_rpcs(stub, name: str, **_kw):
    return [
        stub.GetCustomer(api.GetCustomerRequest(name=name), **_kw),
        stub.ListCustomers(api.ListCustomersRequest(), **_kw),
        stub.CreateCustomer(api.CreateCustomerRequest(customer=customer(home_store=new_store())), **_kw),
        stub.UpdateCustomer(
            api.UpdateCustomerRequest(
                customer=customer_pb2.Customer(name=name, given_name="X"), update_mask=mask("given_name")
            ),
            **_kw,
        ),
        stub.DeleteCustomer(api.DeleteCustomerRequest(name=name), **_kw),
        stub.SearchCustomers(api.SearchCustomersRequest(query="laurent"), **_kw),
        stub.GrantConsent(api.GrantConsentRequest(name=name, channel=1, purpose=1, source="x"), **_kw),
        stub.WithdrawConsent(api.WithdrawConsentRequest(name=name, channel=1, purpose=1, source="x"), **_kw),
        stub.ListConsentChanges(api.ListConsentChangesRequest(parent=name), **_kw),
        stub.CreateNote(api.CreateNoteRequest(parent=name, note=customer_pb2.Note(text="x")), **_kw),
        stub.ListNotes(api.ListNotesRequest(parent=name), **_kw),
    ]


def _token(principal: Principal, secret: str = INTERNAL_SECRET, ttl: int = 300) -> tuple:
    return ((PRINCIPAL_METADATA_KEY, mint_internal_token(principal, secret, ttl)),)


BAD_CREDENTIALS = {
    "none": (),
    "forged": _token(hq(), secret="another-secret-" + secrets.token_hex(16)),
    "expired": _token(hq(), ttl=-120),
    "garbage": ((PRINCIPAL_METADATA_KEY, "not.a.jwt"),),
    "associate-without-store": _token(Principal(subject="associates/a-9", role=Role.ASSOCIATE, associate_id="a-9")),
}


@pytest.mark.parametrize("credential", list(BAD_CREDENTIALS), ids=list(BAD_CREDENTIALS))
async def test_every_rpc_needs_a_verified_principal(customer_service, customer_stub, db, credential):
    target = await create(customer_stub, home_store=await known_store(customer_service))
    before = await snapshot(db)
    for call in _all_rpcs(customer_stub, target.name, metadata=BAD_CREDENTIALS[credential], timeout=TIMEOUT):
        exc = await rpc_error(call)
        assert exc.code() == grpc.StatusCode.UNAUTHENTICATED, exc.details()
    await assert_unchanged(db, before)
    assert await get(customer_stub, target.name) == target


async def test_missing_principal_carries_error_info(customer_stub):
    exc = await rpc_error(customer_stub.ListCustomers(api.ListCustomersRequest(), timeout=TIMEOUT))
    assert exc.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(exc).reason == "UNAUTHENTICATED"


async def test_authentication_comes_before_validation(customer_stub):
    """A caller without a principal learns nothing about what a valid request looks like."""
    for call in _all_rpcs(customer_stub, "not-a-name", timeout=TIMEOUT):
        exc = await rpc_error(call)
        assert exc.code() == grpc.StatusCode.UNAUTHENTICATED, exc.details()


async def test_ids_outside_the_callers_store_cannot_be_probed(customer_service, customer_stub):
    """A missing customer looks like an out-of-scope one to store staff (AIP-211)."""
    store = await known_store(customer_service)
    missing = "customers/does-not-exist-" + secrets.token_hex(4)
    for principal in (associate(store), manager(store)):
        assert await denied_reason(get(customer_stub, missing, principal)) == "CUSTOMER_OUT_OF_SCOPE"
    exc = await rpc_error(get(customer_stub, missing, hq()))
    assert exc.code() == grpc.StatusCode.NOT_FOUND


async def test_forged_principal_carries_rich_status(customer_stub):
    forged = mint_internal_token(hq(), "not-the-internal-secret-of-this-mesh-at-all")
    exc = await rpc_error(
        customer_stub.GetCustomer(
            api.GetCustomerRequest(name="customers/abc"), metadata=((PRINCIPAL_METADATA_KEY, forged),), timeout=TIMEOUT
        )
    )
    assert exc.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(exc).reason == "BAD_PRINCIPAL_TOKEN"


@pytest.mark.parametrize("role", ["associate", "manager"])
async def test_only_headquarters_and_integrations_choose_a_customer_id(customer_service, customer_stub, role):
    """Re-audit: a chosen id taken by another store's customer answered 409 and a free one
    200 (an existence oracle). Store staff may not choose an id at all, whatever it is."""
    store, elsewhere = await known_store(customer_service), await known_store(customer_service)
    theirs = await create(customer_stub, home_store=elsewhere)
    staff = associate(store) if role == "associate" else manager(store)
    for chosen in (theirs.name.split("/")[1], f"free-{secrets.token_hex(4)}"):
        assert await invalid_fields(create(customer_stub, staff, customer_id=chosen, home_store=store)) == [
            "customer_id"
        ]
    chosen = f"hq-{secrets.token_hex(4)}"
    assert (await create(customer_stub, customer_id=chosen, home_store=store)).name == f"customers/{chosen}"
    integration = Principal(subject="services/pos", role=Role.SERVICE)
    chosen = f"pos-{secrets.token_hex(4)}"
    assert (
        await create(customer_stub, integration, customer_id=chosen, home_store=store)
    ).name == f"customers/{chosen}"
