"""Happy paths of the customer resource over gRPC: Create, Get, List, Update, Delete."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2, field_mask_pb2
from google.type import date_pb2

from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from tests.conftest import hq, manager
from tests.customer.support import (
    TIMEOUT,
    Kind,
    create,
    email,
    error_info,
    get,
    known_staff,
    known_store,
    md,
    phone,
    rpc_error,
    scalar,
    uid,
    unique_email,
    unique_phone,
)


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


async def update(stub, msg: customer_pb2.Customer, *paths: str, principal=None) -> customer_pb2.Customer:
    return await stub.UpdateCustomer(
        api.UpdateCustomerRequest(customer=msg, update_mask=mask(*paths)),
        metadata=md(principal or hq()),
        timeout=TIMEOUT,
    )


async def test_create_returns_the_stored_customer(customer_service, customer_stub, db):
    store = await known_store(customer_service)
    await known_staff(customer_service, store, referral_code="QR-A1")
    national, e164 = unique_phone("FR")
    typed, normal = unique_email()
    created = await create(
        customer_stub,
        given_name="  Hélène ",
        family_name="Laurent",
        preferred_name="Mme Laurent",
        home_store=store,
        tier=customer_pb2.TIER_VIP,
        contact_points=[phone(national), email(typed)],
        preferences=[customer_pb2.Preference(category="ring_size", value="52")],
        important_dates=[
            customer_pb2.ImportantDate(
                kind=customer_pb2.IMPORTANT_DATE_KIND_BIRTHDAY, date=date_pb2.Date(year=1985, month=4, day=12)
            )
        ],
        tags=["Press"],
        referral_code="QR-A1",
    )
    assert created.name.startswith("customers/")
    assert created.given_name == "Hélène"
    assert created.home_store == store
    assert created.tier == customer_pb2.TIER_VIP
    assert [(c.kind, c.value, c.primary) for c in created.contact_points] == [
        (Kind.CONTACT_KIND_PHONE, e164, True),
        (Kind.CONTACT_KIND_EMAIL, normal, True),
    ]
    assert [(p.category, p.value) for p in created.preferences] == [("ring_size", "52")]
    assert created.important_dates[0].date == date_pb2.Date(year=1985, month=4, day=12)
    assert list(created.tags) == ["press"]
    assert created.referral_code == "QR-A1"
    assert created.etag
    assert created.create_time.seconds > 0 and created.update_time == created.create_time
    assert list(created.consents) == []
    assert await get(customer_stub, created.name) == created
    cid = created.name.split("/", 1)[1]
    assert await scalar(db, "SELECT count(*) FROM customers WHERE id = %s", cid) == 1
    assert await scalar(db, "SELECT count(*) FROM contact_points WHERE customer_id = %s", cid) == 2
    # The change is announced through the outbox, in the same transaction.
    assert (
        await scalar(
            db,
            "SELECT count(*) FROM outbox WHERE event_type = 'atelier.customer.created' "
            "AND position(convert_to(%s, 'UTF8') in envelope) > 0",
            created.name,
        )
        == 1
    )


async def test_create_with_a_chosen_id_and_refuse_it_twice(customer_service, customer_stub):
    cid = f"c-{uid()}"
    created = await create(customer_stub, customer_id=cid, home_store=await known_store(customer_service))
    assert created.name == f"customers/{cid}"
    exc = await rpc_error(create(customer_stub, customer_id=cid, home_store=await known_store(customer_service)))
    assert exc.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_info(exc).metadata["resource"] == f"customers/{cid}"


async def test_get_unknown_customer_is_not_found(customer_stub):
    name = f"customers/{uid()}"
    exc = await rpc_error(get(customer_stub, name))
    assert exc.code() == grpc.StatusCode.NOT_FOUND
    info = error_info(exc)
    assert info.reason == "NOT_FOUND" and info.metadata["resource"] == name


async def test_list_returns_the_customers_of_a_store(customer_service, customer_stub):
    store = await known_store(customer_service)
    made = [await create(customer_stub, home_store=store, family_name=f"L{i}") for i in range(3)]
    await create(customer_stub, home_store=await known_store(customer_service))
    listed = await customer_stub.ListCustomers(
        api.ListCustomersRequest(filter=f'home_store = "{store}"'), metadata=md(hq()), timeout=TIMEOUT
    )
    assert list(listed.customers) == made  # oldest first, full resources
    assert listed.next_page_token == ""


async def test_update_replaces_only_the_masked_fields(customer_service, customer_stub):
    national, e164 = unique_phone("FR")
    created = await create(
        customer_stub, home_store=await known_store(customer_service), contact_points=[phone(national)], tags=["press"]
    )
    change = customer_pb2.Customer(
        name=created.name, given_name="Héloïse", family_name="IGNORED", tier=customer_pb2.TIER_VVIP, tags=["vip"]
    )
    updated = await update(customer_stub, change, "given_name", "tier")
    assert updated.given_name == "Héloïse"
    assert updated.family_name == created.family_name
    assert updated.tier == customer_pb2.TIER_VVIP
    assert list(updated.tags) == ["press"]
    assert [c.value for c in updated.contact_points] == [e164]
    assert updated.etag != created.etag
    assert updated.create_time == created.create_time
    assert updated.update_time.ToDatetime() > created.update_time.ToDatetime()
    assert await get(customer_stub, created.name) == updated


async def test_update_contact_points_and_lists(customer_service, customer_stub):
    created = await create(
        customer_stub, home_store=await known_store(customer_service), contact_points=[phone(unique_phone("FR")[0])]
    )
    typed, normal = unique_email()
    national, e164 = unique_phone("GB", prefix="7")
    change = customer_pb2.Customer(
        name=created.name,
        locale="en-GB",
        contact_points=[email(typed), phone(national)],
        preferences=[customer_pb2.Preference(category="colour", value="navy")],
        tags=["vip", "press"],
    )
    updated = await update(customer_stub, change, "locale", "contact_points", "preferences", "tags")
    assert [(c.kind, c.value) for c in updated.contact_points] == [
        (Kind.CONTACT_KIND_EMAIL, normal),
        (Kind.CONTACT_KIND_PHONE, e164),
    ]
    assert updated.locale == "en-GB"
    assert [(p.category, p.value) for p in updated.preferences] == [("colour", "navy")]
    assert list(updated.tags) == ["vip", "press"]


async def test_update_star_replaces_every_updatable_field(customer_service, customer_stub):
    store = await known_store(customer_service)
    await known_staff(customer_service, store, referral_code="QR-77")
    created = await create(
        customer_stub,
        home_store=store,
        preferred_name="Mme L",
        tier=customer_pb2.TIER_CLIENT,
        contact_points=[phone(unique_phone("FR")[0])],
        tags=["press"],
        referral_code="QR-77",
    )
    replacement = customer_pb2.Customer(
        name=created.name, given_name="Anne", home_store=store, locale="fr-FR", referral_code="QR-IGNORED"
    )
    updated = await update(customer_stub, replacement, "*")
    assert updated.given_name == "Anne"
    assert updated.family_name == ""
    assert updated.preferred_name == ""
    assert updated.tier == customer_pb2.TIER_UNSPECIFIED
    assert list(updated.contact_points) == []
    assert list(updated.tags) == []
    assert updated.home_store == store
    assert updated.referral_code == "QR-77"  # immutable, not part of `*`


async def test_update_rebuilds_search_text(customer_service, customer_stub):
    store = await known_store(customer_service)
    old, new = f"old{uid()}", f"new{uid()}"
    created = await create(customer_stub, home_store=store, family_name=old)
    await update(customer_stub, customer_pb2.Customer(name=created.name, family_name=new), "family_name")

    async def found(query: str) -> list[str]:
        reply = await customer_stub.SearchCustomers(
            api.SearchCustomersRequest(query=query), metadata=md(manager(store)), timeout=TIMEOUT
        )
        return [r.customer.name for r in reply.results]

    assert await found(new) == [created.name]
    assert created.name not in await found(old)


async def test_update_unknown_customer_is_not_found(customer_stub):
    exc = await rpc_error(
        update(customer_stub, customer_pb2.Customer(name=f"customers/{uid()}", given_name="X"), "given_name")
    )
    assert exc.code() == grpc.StatusCode.NOT_FOUND


async def test_update_cannot_leave_a_customer_without_a_name(customer_service, customer_stub, db):
    created = await create(
        customer_stub, home_store=await known_store(customer_service), given_name="", family_name="Laurent"
    )
    exc = await rpc_error(update(customer_stub, customer_pb2.Customer(name=created.name), "family_name"))
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (await get(customer_stub, created.name)) == created


async def test_delete_removes_the_customer_and_its_contact_points(customer_service, customer_stub, db):
    national, e164 = unique_phone("FR")
    created = await create(
        customer_stub, home_store=await known_store(customer_service), contact_points=[phone(national)]
    )
    reply = await customer_stub.DeleteCustomer(
        api.DeleteCustomerRequest(name=created.name), metadata=md(hq()), timeout=TIMEOUT
    )
    assert isinstance(reply, empty_pb2.Empty)
    exc = await rpc_error(get(customer_stub, created.name))
    assert exc.code() == grpc.StatusCode.NOT_FOUND
    assert await scalar(db, "SELECT count(*) FROM contact_points WHERE value = %s", e164) == 0
    again = await rpc_error(
        customer_stub.DeleteCustomer(api.DeleteCustomerRequest(name=created.name), metadata=md(hq()), timeout=TIMEOUT)
    )
    assert again.code() == grpc.StatusCode.NOT_FOUND
    # Its phone number is free again.
    reused = await create(
        customer_stub, home_store=await known_store(customer_service), contact_points=[phone(national)]
    )
    assert reused.contact_points[0].value == e164


async def test_delete_with_the_current_etag(customer_service, customer_stub):
    created = await create(customer_stub, home_store=await known_store(customer_service))
    await customer_stub.DeleteCustomer(
        api.DeleteCustomerRequest(name=created.name, etag=created.etag), metadata=md(hq()), timeout=TIMEOUT
    )
    assert (await rpc_error(get(customer_stub, created.name))).code() == grpc.StatusCode.NOT_FOUND


async def test_stale_etag_on_update_is_aborted(customer_service, customer_stub):
    created = await create(customer_stub, home_store=await known_store(customer_service))
    first = created.__class__(name=created.name, given_name="First", etag=created.etag)
    updated = await update(customer_stub, first, "given_name")
    stale = created.__class__(name=created.name, given_name="Second", etag=created.etag)
    exc = await rpc_error(update(customer_stub, stale, "given_name"))
    assert exc.code() == grpc.StatusCode.ABORTED
    info = error_info(exc)
    assert info.reason == "ETAG_MISMATCH"
    assert info.metadata["current_etag"] == updated.etag
    assert (await get(customer_stub, created.name)).given_name == "First"
    # With the current etag it goes through.
    fresh = created.__class__(name=created.name, given_name="Second", etag=updated.etag)
    assert (await update(customer_stub, fresh, "given_name")).given_name == "Second"


async def test_stale_etag_on_delete_is_aborted(customer_service, customer_stub):
    created = await create(customer_stub, home_store=await known_store(customer_service))
    await update(customer_stub, created.__class__(name=created.name, given_name="Changed"), "given_name")
    exc = await rpc_error(
        customer_stub.DeleteCustomer(
            api.DeleteCustomerRequest(name=created.name, etag=created.etag), metadata=md(hq()), timeout=TIMEOUT
        )
    )
    assert exc.code() == grpc.StatusCode.ABORTED
    assert error_info(exc).reason == "ETAG_MISMATCH"
    assert (await get(customer_stub, created.name)).given_name == "Changed"


async def test_etag_changes_on_every_change(customer_service, customer_stub):
    from atelier.common.v1 import common_pb2

    created = await create(customer_stub, home_store=await known_store(customer_service))
    seen = [created.etag]
    updated = await update(customer_stub, created.__class__(name=created.name, tier=customer_pb2.TIER_VIP), "tier")
    seen.append(updated.etag)
    consent = api.GrantConsentRequest(
        name=created.name, channel=common_pb2.CHANNEL_EMAIL, purpose=common_pb2.PURPOSE_MARKETING, source="store-tablet"
    )
    granted = await customer_stub.GrantConsent(consent, metadata=md(hq()), timeout=TIMEOUT)
    seen.append(granted.etag)
    withdrawn = await customer_stub.WithdrawConsent(
        api.WithdrawConsentRequest(
            name=created.name, channel=consent.channel, purpose=consent.purpose, source="web-form"
        ),
        metadata=md(hq()),
        timeout=TIMEOUT,
    )
    seen.append(withdrawn.etag)
    assert len(set(seen)) == len(seen)
    current = await get(customer_stub, created.name)
    assert current.etag == withdrawn.etag
    # A read does not change it.
    assert (await get(customer_stub, created.name)).etag == current.etag


async def test_concurrent_updates_with_the_same_etag_one_wins(customer_service, customer_stub):
    import asyncio

    created = await create(customer_stub, home_store=await known_store(customer_service))
    attempts = [
        update(
            customer_stub,
            customer_pb2.Customer(name=created.name, given_name=f"Writer {i}", etag=created.etag),
            "given_name",
        )
        for i in range(5)
    ]
    outcomes = await asyncio.gather(*attempts, return_exceptions=True)
    winners = [o for o in outcomes if isinstance(o, customer_pb2.Customer)]
    losers = [o for o in outcomes if not isinstance(o, customer_pb2.Customer)]
    assert len(winners) == 1
    assert all(isinstance(e, grpc.aio.AioRpcError) and e.code() == grpc.StatusCode.ABORTED for e in losers)
    assert await get(customer_stub, created.name) == winners[0]
