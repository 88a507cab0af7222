"""Contact points over gRPC: normalised on the way in, unique across customers."""

from __future__ import annotations

import grpc
from google.protobuf import field_mask_pb2

from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from tests.conftest import hq
from tests.customer.support import (
    TIMEOUT,
    Kind,
    assert_unchanged,
    bad_fields,
    create,
    email,
    error_info,
    get,
    known_store,
    md,
    phone,
    rpc_error,
    scalar,
    snapshot,
    uid,
    unique_email,
    unique_phone,
)


async def test_phone_with_country_code_ignores_the_locale(customer_service, customer_stub):
    national, e164 = unique_phone("FR")
    international = "+33 " + national[1:]
    created = await create(
        customer_stub,
        home_store=await known_store(customer_service),
        locale="en-US",
        contact_points=[phone(international)],
    )
    assert [c.value for c in created.contact_points] == [e164]


async def test_national_phone_reads_in_the_region_of_the_locale(customer_service, customer_stub):
    fr_national, fr = unique_phone("FR")
    created_fr = await create(
        customer_stub,
        home_store=await known_store(customer_service),
        locale="fr-FR",
        contact_points=[phone(fr_national)],
    )
    assert created_fr.contact_points[0].value == fr

    cn_national, cn = unique_phone("CN", prefix="13")
    created_cn = await create(
        customer_stub,
        home_store=await known_store(customer_service),
        locale="zh-Hans-CN",
        contact_points=[phone(cn_national)],
    )
    assert created_cn.contact_points[0].value == cn

    us_national, us = unique_phone("US", prefix="212")
    created_us = await create(
        customer_stub,
        home_store=await known_store(customer_service),
        locale="en-US",
        contact_points=[phone(us_national)],
    )
    assert created_us.contact_points[0].value == us


async def test_national_phone_without_a_region_is_refused(customer_service, customer_stub):
    national, _ = unique_phone("FR")
    exc = await rpc_error(
        create(
            customer_stub, home_store=await known_store(customer_service), locale="fr", contact_points=[phone(national)]
        )
    )
    assert bad_fields(exc) == ["customer.contact_points[0].value"]


async def test_email_is_lower_cased_and_whatsapp_is_e164(customer_service, customer_stub):
    typed, normal = unique_email()
    national, e164 = unique_phone("GB", prefix="7")
    wechat = f"Wx_{uid()}"
    created = await create(
        customer_stub,
        home_store=await known_store(customer_service),
        locale="en-GB",
        contact_points=[
            email(f"  {typed} "),
            customer_pb2.ContactPoint(kind=Kind.CONTACT_KIND_WHATSAPP, value=national),
            customer_pb2.ContactPoint(kind=Kind.CONTACT_KIND_WECHAT, value=wechat),
        ],
    )
    assert [(c.kind, c.value, c.primary) for c in created.contact_points] == [
        (Kind.CONTACT_KIND_EMAIL, normal, True),
        (Kind.CONTACT_KIND_WHATSAPP, e164, True),
        (Kind.CONTACT_KIND_WECHAT, wechat.lower(), True),
    ]


async def test_a_phone_and_a_whatsapp_of_the_same_number_coexist(customer_service, customer_stub):
    national, e164 = unique_phone("FR")
    created = await create(
        customer_stub,
        home_store=await known_store(customer_service),
        contact_points=[phone(national), customer_pb2.ContactPoint(kind=Kind.CONTACT_KIND_WHATSAPP, value=e164)],
    )
    assert [(c.kind, c.value) for c in created.contact_points] == [
        (Kind.CONTACT_KIND_PHONE, e164),
        (Kind.CONTACT_KIND_WHATSAPP, e164),
    ]


async def test_a_phone_typed_differently_belongs_to_one_customer_only(customer_service, customer_stub, db):
    national, e164 = unique_phone("FR")
    first = await create(
        customer_stub, home_store=await known_store(customer_service), contact_points=[phone(national)]
    )
    before = await snapshot(db)
    spelled = "+33 (0)" + national[1:].replace(" ", ".")
    exc = await rpc_error(
        create(
            customer_stub,
            home_store=await known_store(customer_service),
            locale="en-US",
            contact_points=[phone(spelled)],
        )
    )
    assert exc.code() == grpc.StatusCode.ALREADY_EXISTS
    info = error_info(exc)
    assert info.reason == "CONTACT_POINT_TAKEN"
    assert info.metadata["existing_customer"] == first.name
    assert info.metadata["value"] == e164
    await assert_unchanged(db, before)
    assert await scalar(db, "SELECT count(*) FROM contact_points WHERE value = %s", e164) == 1


async def test_an_email_in_other_case_belongs_to_one_customer_only(customer_service, customer_stub):
    typed, normal = unique_email()
    first = await create(customer_stub, home_store=await known_store(customer_service), contact_points=[email(typed)])
    exc = await rpc_error(
        create(customer_stub, home_store=await known_store(customer_service), contact_points=[email(typed.upper())])
    )
    assert exc.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_info(exc).metadata["existing_customer"] == first.name
    assert error_info(exc).metadata["value"] == normal


async def test_update_cannot_take_another_customers_contact_point(customer_service, customer_stub, db):
    national, e164 = unique_phone("FR")
    owner = await create(
        customer_stub, home_store=await known_store(customer_service), contact_points=[phone(national)]
    )
    own_email, _ = unique_email()
    other = await create(
        customer_stub, home_store=await known_store(customer_service), contact_points=[email(own_email)]
    )
    before = await snapshot(db)
    change = customer_pb2.Customer(name=other.name, locale="fr-FR", contact_points=[email(own_email), phone(e164)])
    exc = await rpc_error(
        customer_stub.UpdateCustomer(
            api.UpdateCustomerRequest(customer=change, update_mask=field_mask_pb2.FieldMask(paths=["contact_points"])),
            metadata=md(hq()),
            timeout=TIMEOUT,
        )
    )
    assert exc.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_info(exc).metadata["existing_customer"] == owner.name
    await assert_unchanged(db, before)
    # The other customer keeps her own contact points and etag.
    assert await get(customer_stub, other.name) == other


async def test_update_may_keep_and_reorder_its_own_contact_points(customer_service, customer_stub):
    national, e164 = unique_phone("FR")
    typed, normal = unique_email()
    created = await create(
        customer_stub, home_store=await known_store(customer_service), contact_points=[phone(national), email(typed)]
    )
    change = customer_pb2.Customer(name=created.name, locale="fr-FR", contact_points=[email(normal), phone(e164)])
    updated = await customer_stub.UpdateCustomer(
        api.UpdateCustomerRequest(customer=change, update_mask=field_mask_pb2.FieldMask(paths=["contact_points"])),
        metadata=md(hq()),
        timeout=TIMEOUT,
    )
    assert [c.value for c in updated.contact_points] == [normal, e164]


async def test_dropped_contact_point_can_be_used_by_someone_else(customer_service, customer_stub):
    national, e164 = unique_phone("FR")
    created = await create(
        customer_stub, home_store=await known_store(customer_service), contact_points=[phone(national)]
    )
    await customer_stub.UpdateCustomer(
        api.UpdateCustomerRequest(
            customer=customer_pb2.Customer(name=created.name),
            update_mask=field_mask_pb2.FieldMask(paths=["contact_points"]),
        ),
        metadata=md(hq()),
        timeout=TIMEOUT,
    )
    second = await create(customer_stub, home_store=await known_store(customer_service), contact_points=[phone(e164)])
    assert second.contact_points[0].value == e164


async def test_partial_update_reads_national_phones_in_the_stored_locale(customer_service, customer_stub):
    created = await create(customer_stub, home_store=await known_store(customer_service), locale="en-GB")
    national, e164 = unique_phone("GB", prefix="7")
    change = customer_pb2.Customer(name=created.name, contact_points=[phone(national)])  # no locale in the request
    updated = await customer_stub.UpdateCustomer(
        api.UpdateCustomerRequest(customer=change, update_mask=field_mask_pb2.FieldMask(paths=["contact_points"])),
        metadata=md(hq()),
        timeout=TIMEOUT,
    )
    assert [c.value for c in updated.contact_points] == [e164]
    assert updated.locale == "en-GB"


async def test_update_of_locale_and_phones_reads_phones_in_the_new_locale(customer_service, customer_stub):
    created = await create(customer_stub, home_store=await known_store(customer_service), locale="en-GB")
    national, e164 = unique_phone("FR")
    change = customer_pb2.Customer(name=created.name, locale="fr-FR", contact_points=[phone(national)])
    updated = await customer_stub.UpdateCustomer(
        api.UpdateCustomerRequest(
            customer=change, update_mask=field_mask_pb2.FieldMask(paths=["locale", "contact_points"])
        ),
        metadata=md(hq()),
        timeout=TIMEOUT,
    )
    assert [c.value for c in updated.contact_points] == [e164]


async def test_concurrent_customers_with_the_same_phone_one_wins(customer_service, customer_stub, db):
    import asyncio

    national, e164 = unique_phone("FR")
    stores = [await known_store(customer_service) for _ in range(8)]
    outcomes = await asyncio.gather(
        *(create(customer_stub, home_store=store, contact_points=[phone(national)]) for store in stores),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if isinstance(o, customer_pb2.Customer)]
    losers = [o for o in outcomes if not isinstance(o, customer_pb2.Customer)]
    assert len(winners) == 1
    assert all(isinstance(e, grpc.aio.AioRpcError) and e.code() == grpc.StatusCode.ALREADY_EXISTS for e in losers)
    assert {error_info(e).metadata["existing_customer"] for e in losers} == {winners[0].name}
    assert await scalar(db, "SELECT count(*) FROM contact_points WHERE value = %s", e164) == 1
