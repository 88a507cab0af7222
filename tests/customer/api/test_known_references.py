"""A customer's home store and referral code name what exists (issue 8, item 18): stores
and referral codes are known from the associate service's events (the `directory`
consumer); an unknown one is INVALID_ARGUMENT naming the field, and changes nothing. The
same holds for the store of a purchase (a till sale may create its client there) and for
the rows of an import."""

from __future__ import annotations

from google.protobuf import field_mask_pb2

from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from atelier.customer.v1 import purchase_service_pb2 as papi
from tests.conftest import hq, manager
from tests.customer.support import (
    TIMEOUT,
    assert_unchanged,
    bad_request,
    create,
    email,
    import_batches,
    invalid_fields,
    known_referral_code,
    known_store,
    line,
    md,
    new_store,
    purchase,
    record,
    row,
    snapshot,
    uid,
    unique_email,
)


async def test_a_customer_of_an_unknown_store_is_refused_naming_the_field(customer_service, customer_stub, db):
    before = await snapshot(db)
    assert await invalid_fields(create(customer_stub, home_store=new_store())) == ["customer.home_store"]
    assert await invalid_fields(create(customer_stub, home_store=new_store(), referral_code="QR-NOPE-1")) == [
        "customer.home_store",
        "customer.referral_code",
    ]
    await assert_unchanged(db, before)


async def test_an_unknown_referral_code_is_refused_naming_the_field(customer_service, customer_stub, db):
    store = await known_store(customer_service)
    before = await snapshot(db)
    exc_fields = await invalid_fields(create(customer_stub, home_store=store, referral_code=f"QR{uid()[:8]}"))
    assert exc_fields == ["customer.referral_code"]
    await assert_unchanged(db, before)


async def test_a_known_store_and_referral_code_are_accepted(customer_service, customer_stub):
    store = await known_store(customer_service)
    code = await known_referral_code(customer_service, store)
    created = await create(customer_stub, home_store=store, referral_code=code.lower())
    assert (created.home_store, created.referral_code) == (store, code.lower())
    # No home store (the headquarters pool) and no referral code need nothing.
    assert (await create(customer_stub)).home_store == ""


async def test_a_store_becomes_known_when_its_event_is_applied(customer_service, customer_stub):
    store = new_store()
    assert await invalid_fields(create(customer_stub, manager(store))) == ["customer.home_store"]
    await known_store(customer_service, store)
    assert (await create(customer_stub, manager(store))).home_store == store


async def test_moving_a_customer_needs_a_known_store(customer_service, customer_stub):
    store = await known_store(customer_service)
    customer = await create(customer_stub, home_store=store)

    def move(to: str):
        return customer_stub.UpdateCustomer(
            api.UpdateCustomerRequest(
                customer=customer_pb2.Customer(name=customer.name, home_store=to),
                update_mask=field_mask_pb2.FieldMask(paths=["home_store"]),
            ),
            metadata=md(hq()),
            timeout=TIMEOUT,
        )

    assert await invalid_fields(move(new_store())) == ["customer.home_store"]
    elsewhere = await known_store(customer_service)
    assert (await move(elsewhere)).home_store == elsewhere


async def test_a_purchase_in_an_unknown_store_is_refused(customer_service, customer_stub, purchase_stub, db):
    customer = await create(customer_stub, home_store=await known_store(customer_service))
    before = await snapshot(db)
    nowhere = new_store()
    assert await invalid_fields(record(purchase_stub, customer.name, purchase(line("A", "10"), store=nowhere))) == [
        "purchase.store"
    ]
    till = papi.RecordPurchaseRequest(
        contact_points=[email(unique_email()[0])], given_name="Lin", purchase=purchase(line("A", "10"), store=nowhere)
    )
    assert await invalid_fields(purchase_stub.RecordPurchase(till, metadata=md(), timeout=TIMEOUT)) == [
        "purchase.store"
    ]
    await assert_unchanged(db, before)


async def test_import_rows_naming_unknown_stores_or_codes_are_rejected(customer_service, customer_stub):
    store = await known_store(customer_service)
    code = await known_referral_code(customer_service, store)
    rows = [
        row(1, given_name="Known", home_store=store, referral_code=code),
        row(2, given_name="Lost", home_store=new_store()),
        row(3, given_name="Miscarded", home_store=store, referral_code="QR-NOPE-2"),
    ]
    reply = await import_batches(customer_stub, f"imp-{uid()}", [("b1", rows)])
    assert (reply.accepted, reply.rejected) == (1, 2)
    rejected = {r.row_number: [v.field for v in r.field_violations] for r in reply.rejected_rows}
    assert rejected == {2: ["customer.home_store"], 3: ["customer.referral_code"]}


async def test_the_refusal_says_which_store_and_that_it_may_be_new(customer_service, customer_stub):
    from tests.customer.support import rpc_error

    store = new_store()
    exc = await rpc_error(create(customer_stub, home_store=store))
    (violation,) = bad_request(exc).field_violations
    assert store in violation.description and "a few seconds" in violation.description
