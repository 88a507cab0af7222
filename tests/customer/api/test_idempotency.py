"""request_id on CreateCustomer and CreateNote: a repeated request returns the first
result, concurrent duplicates create one row, a reused key with another body is refused."""

from __future__ import annotations

import asyncio
import uuid

import grpc

from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from servicekit.auth import Principal, Role
from tests.conftest import associate, hq, manager
from tests.customer.support import (
    TIMEOUT,
    assert_unchanged,
    create,
    customer,
    error_info,
    known_store,
    md,
    phone,
    rpc_error,
    scalar,
    snapshot,
    uid,
    unique_phone,
)


async def test_repeated_request_returns_the_first_result(customer_service, customer_stub, db):
    request_id = str(uuid.uuid4())
    store = await known_store(customer_service)
    national, _ = unique_phone("FR")
    first = await create(customer_stub, request_id=request_id, home_store=store, contact_points=[phone(national)])
    before = await snapshot(db)
    again = await create(customer_stub, request_id=request_id, home_store=store, contact_points=[phone(national)])
    assert again == first
    await assert_unchanged(db, before)
    assert await scalar(db, "SELECT count(*) FROM customers WHERE home_store = %s", store) == 1


async def test_first_result_is_returned_even_after_a_change(customer_service, customer_stub):
    request_id = str(uuid.uuid4())
    store = await known_store(customer_service)
    first = await create(customer_stub, request_id=request_id, home_store=store)
    await customer_stub.GrantConsent(
        api.GrantConsentRequest(name=first.name, channel=1, purpose=1, source="web-form"),
        metadata=md(hq()),
        timeout=TIMEOUT,
    )
    assert await create(customer_stub, request_id=request_id, home_store=store) == first


async def test_concurrent_identical_creates_make_one_customer(customer_service, customer_stub, db):
    request_id = str(uuid.uuid4())
    store = await known_store(customer_service)
    national, e164 = unique_phone("FR")
    request = api.CreateCustomerRequest(
        customer=customer(home_store=store, contact_points=[phone(national)]), request_id=request_id
    )
    results = await asyncio.gather(
        *(customer_stub.CreateCustomer(request, metadata=md(hq()), timeout=TIMEOUT * 3) for _ in range(20))
    )
    assert len({r.name for r in results}) == 1
    assert all(r == results[0] for r in results)
    assert await scalar(db, "SELECT count(*) FROM customers WHERE home_store = %s", store) == 1
    assert await scalar(db, "SELECT count(*) FROM contact_points WHERE value = %s", e164) == 1
    assert await scalar(db, "SELECT count(*) FROM idempotency_keys WHERE request_id = %s", request_id) == 1
    created_events = await scalar(
        db,
        "SELECT count(*) FROM outbox WHERE event_type = 'atelier.customer.created' "
        "AND position(convert_to(%s, 'UTF8') in envelope) > 0",
        results[0].name,
    )
    assert created_events == 1


async def test_same_request_id_with_another_body_is_refused(customer_service, customer_stub, db):
    request_id = str(uuid.uuid4())
    store = await known_store(customer_service)
    first = await create(customer_stub, request_id=request_id, home_store=store, family_name="Laurent")
    before = await snapshot(db)
    exc = await rpc_error(create(customer_stub, request_id=request_id, home_store=store, family_name="Dupont"))
    assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(exc)
    assert info.reason == "REQUEST_ID_REUSED"
    assert info.metadata["request_id"] == request_id
    await assert_unchanged(db, before)
    assert await scalar(db, "SELECT family_name FROM customers WHERE id = %s", first.name.split("/")[1]) == "Laurent"


async def test_a_failed_create_does_not_burn_its_request_id(customer_service, customer_stub, db):
    national, _ = unique_phone("FR")
    owner = await create(
        customer_stub, home_store=await known_store(customer_service), contact_points=[phone(national)]
    )
    request_id = str(uuid.uuid4())
    store = await known_store(customer_service)
    exc = await rpc_error(
        create(customer_stub, request_id=request_id, home_store=store, contact_points=[phone(national)])
    )
    assert exc.code() == grpc.StatusCode.ALREADY_EXISTS
    assert await scalar(db, "SELECT count(*) FROM idempotency_keys WHERE request_id = %s", request_id) == 0
    # Once the clash is resolved, the very same request succeeds.
    await customer_stub.DeleteCustomer(api.DeleteCustomerRequest(name=owner.name), metadata=md(hq()), timeout=TIMEOUT)
    created = await create(customer_stub, request_id=request_id, home_store=store, contact_points=[phone(national)])
    assert created.home_store == store


async def test_without_request_id_each_create_is_new(customer_service, customer_stub, db):
    store = await known_store(customer_service)
    a = await create(customer_stub, home_store=store)
    b = await create(customer_stub, home_store=store)
    assert a.name != b.name
    assert await scalar(db, "SELECT count(*) FROM customers WHERE home_store = %s", store) == 2


async def test_repeated_note_request_returns_the_first_note(customer_service, customer_stub, db):
    store = await known_store(customer_service)
    # Created by the associate, so she holds the customer she writes notes about.
    target = await create(customer_stub, associate(store), home_store=store)
    request = api.CreateNoteRequest(
        parent=target.name, note=customer_pb2.Note(text=f"Loves emeralds {uid()}"), request_id=str(uuid.uuid4())
    )
    who = md(associate(store))
    notes = await asyncio.gather(
        *(customer_stub.CreateNote(request, metadata=who, timeout=TIMEOUT * 3) for _ in range(5))
    )
    assert all(n == notes[0] for n in notes)
    assert await scalar(db, "SELECT count(*) FROM notes WHERE customer_id = %s", target.name.split("/")[1]) == 1
    changed = api.CreateNoteRequest(
        parent=target.name, note=customer_pb2.Note(text="other"), request_id=request.request_id
    )
    exc = await rpc_error(customer_stub.CreateNote(changed, metadata=who, timeout=TIMEOUT))
    assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_request_id_replayed_by_another_caller_is_refused(customer_service, customer_stub, db):
    request_id = str(uuid.uuid4())
    store = await known_store(customer_service)
    await create(customer_stub, manager(store), request_id=request_id, home_store=store, family_name="Mori")
    before = await snapshot(db)
    other = Principal(subject="staff/other-manager", role=Role.MANAGER, associate_id="m-2", store=store)
    exc = await rpc_error(create(customer_stub, other, request_id=request_id, home_store=store, family_name="Mori"))
    assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION
    await assert_unchanged(db, before)
