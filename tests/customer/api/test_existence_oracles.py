"""A caller learns nothing about customers she cannot reach (issue 8, item 8): a till sale
naming another store's client by her contact point is recorded as for a client nobody
knows, an interaction's external id used on another customer is another touchpoint, and a
contact point taken by someone out of reach is said to be taken without saying by whom."""

from __future__ import annotations

import grpc
from google.protobuf import field_mask_pb2

from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from atelier.customer.v1 import purchase_service_pb2 as papi
from tests.conftest import associate, hq, manager
from tests.customer.support import (
    TIMEOUT,
    create,
    email,
    error_info,
    get,
    interaction,
    known_store,
    line,
    md,
    purchase,
    rpc_error,
    scalar,
    uid,
    unique_email,
    unique_phone,
)


def till_sale(store: str, *points: customer_pb2.ContactPoint) -> papi.RecordPurchaseRequest:
    return papi.RecordPurchaseRequest(
        contact_points=list(points),
        given_name="Lin",
        family_name="Wang",
        locale="fr-FR",
        purchase=purchase(line("RING-3", "900"), store=store),
    )


def shape(recorded) -> tuple:
    """What an answer shows, customer and ids aside."""
    return (recorded.channel, recorded.store, [(x.sku, x.quantity) for x in recorded.lines], recorded.total)


def owner_of(recorded) -> str:
    return recorded.name.split("/purchases/")[0]


async def test_a_till_sale_with_another_stores_clients_email_answers_as_for_an_unknown_client(
    customer_service, customer_stub, purchase_stub, db
):
    home, elsewhere = await known_store(customer_service), await known_store(customer_service)
    typed, normal = unique_email()
    theirs = await create(customer_stub, home_store=home, family_name=f"Mei{uid()}", contact_points=[email(typed)])
    for stranger in (associate(elsewhere, f"a-{uid()}"), manager(elsewhere)):
        unknown = await purchase_stub.RecordPurchase(
            till_sale(elsewhere, email(unique_email()[0])), metadata=md(stranger), timeout=TIMEOUT
        )
        sale = await purchase_stub.RecordPurchase(till_sale(elsewhere, email(typed)), metadata=md(stranger))

        assert shape(sale) == shape(unknown)
        assert theirs.name not in str(sale) and theirs.family_name not in str(sale)
        # The sale went to a new client of the stranger's store, who does not take the e-mail.
        created = await get(customer_stub, owner_of(sale), stranger)
        assert created.home_store == elsewhere and created.given_name == "Lin"
        assert list(created.contact_points) == []
        assert (await get(customer_stub, owner_of(unknown), stranger)).contact_points[0].kind == email("x").kind
    # Her own record is untouched: no purchase, her e-mail still hers alone.
    assert (await get(customer_stub, theirs.name)).purchase_stats.order_count == 0
    assert await scalar(db, "SELECT count(*) FROM contact_points WHERE value = %s", normal) == 1


async def test_a_till_sale_matches_a_client_the_caller_reaches(customer_service, customer_stub, purchase_stub):
    store = await known_store(customer_service)
    typed, _ = unique_email()
    national, _ = unique_phone("FR")
    client = await create(customer_stub, home_store=store, contact_points=[email(typed)])
    by_manager = await purchase_stub.RecordPurchase(till_sale(store, email(typed)), metadata=md(manager(store)))
    assert owner_of(by_manager) == client.name
    # The first point the caller can place decides; a point nobody owns changes nothing.
    by_hq = await purchase_stub.RecordPurchase(
        till_sale(store, customer_pb2.ContactPoint(kind=customer_pb2.CONTACT_KIND_PHONE, value=national), email(typed)),
        metadata=md(hq()),
        timeout=TIMEOUT,
    )
    assert owner_of(by_hq) == client.name
    assert (await get(customer_stub, client.name)).purchase_stats.order_count == 2


async def test_an_associate_matches_only_the_clients_she_holds(customer_service, customer_stub, purchase_stub):
    store = await known_store(customer_service)
    clerk = associate(store, f"a-{uid()}")
    typed, _ = unique_email()
    colleagues = await create(customer_stub, home_store=store, contact_points=[email(typed)])
    mine = await create(customer_stub, clerk, contact_points=[email(unique_email()[0])])
    to_mine = await purchase_stub.RecordPurchase(
        till_sale(store, email(mine.contact_points[0].value)), metadata=md(clerk), timeout=TIMEOUT
    )
    assert owner_of(to_mine) == mine.name
    to_colleagues = await purchase_stub.RecordPurchase(till_sale(store, email(typed)), metadata=md(clerk))
    assert owner_of(to_colleagues) not in (colleagues.name, mine.name)


async def test_a_taken_contact_point_does_not_name_a_customer_out_of_reach(
    customer_service, customer_stub, purchase_stub
):
    home, elsewhere = await known_store(customer_service), await known_store(customer_service)
    typed, _ = unique_email()
    theirs = await create(customer_stub, home_store=home, contact_points=[email(typed)])
    stranger = manager(elsewhere)

    exc = await rpc_error(create(customer_stub, stranger, contact_points=[email(typed)]))
    assert exc.code() == grpc.StatusCode.ALREADY_EXISTS
    info = error_info(exc)
    assert info.reason == "CONTACT_POINT_TAKEN" and "existing_customer" not in info.metadata
    assert theirs.name not in exc.details()

    mine = await create(customer_stub, stranger)
    change = api.UpdateCustomerRequest(
        customer=customer_pb2.Customer(name=mine.name, contact_points=[email(typed)]),
        update_mask=field_mask_pb2.FieldMask(paths=["contact_points"]),
    )
    exc = await rpc_error(customer_stub.UpdateCustomer(change, metadata=md(stranger), timeout=TIMEOUT))
    assert error_info(exc).reason == "CONTACT_POINT_TAKEN" and "existing_customer" not in error_info(exc).metadata
    # Her own store's manager is told whose it is.
    exc = await rpc_error(create(customer_stub, manager(home), contact_points=[email(typed)]))
    assert error_info(exc).metadata["existing_customer"] == theirs.name


async def test_an_external_id_used_on_another_stores_customer_is_another_touchpoint(
    customer_service, customer_stub, timeline_stub
):
    home, elsewhere = await known_store(customer_service), await known_store(customer_service)
    holder, stranger = associate(home, f"a-{uid()}"), associate(elsewhere, f"a-{uid()}")
    first = await create(customer_stub, holder)
    second = await create(customer_stub, stranger)
    external = f"wa-{uid()}"
    recorded = await interaction(timeline_stub, first.name, holder, external_id=external)

    fresh = await interaction(timeline_stub, second.name, stranger, external_id=f"wa-{uid()}")
    reused = await interaction(timeline_stub, second.name, stranger, external_id=external)

    assert reused.name.startswith(f"{second.name}/interactions/") and reused.name != fresh.name
    assert first.name not in str(reused) and recorded.name != reused.name
