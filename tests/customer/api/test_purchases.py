"""RecordPurchase / GetPurchase / ListPurchases against the real stack: replayed orders,
unknown clients at the till, validation naming fields, and derived figures."""

from __future__ import annotations

from decimal import Decimal

import grpc

from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import purchase_service_pb2 as papi
from tests.conftest import associate, manager
from tests.customer.support import (
    ONLINE,
    TIMEOUT,
    ago,
    amounts,
    create,
    denied_reason,
    error_info,
    events_of,
    get,
    invalid_fields,
    known_staff,
    known_store,
    line,
    md,
    purchase,
    record,
    rpc_error,
    scalar,
    uid,
    unique_email,
    unique_phone,
)

RECORDED = "atelier.customer.purchase_recorded"


async def test_record_get_and_list_a_purchase(customer_service, purchase_stub, customer_stub):
    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    await known_staff(customer_service, store, associate_id="a-7")
    p = purchase(
        line("W-1", "4200.50", 1, "watches"),
        line("B-2", "1800", 2, "leather-goods"),
        store=store,
        associate="associates/a-7",
    )
    recorded = await record(purchase_stub, target.name, p)
    assert recorded.name.startswith(target.name + "/purchases/")
    assert [item.line_id for item in recorded.lines] == ["1", "2"]
    assert amounts([recorded.total]) == {"EUR": Decimal("7800.5")}
    assert recorded.assisting_associate == "associates/a-7" and recorded.store == store
    got = await purchase_stub.GetPurchase(papi.GetPurchaseRequest(name=recorded.name), metadata=md(), timeout=TIMEOUT)
    assert got == recorded
    listed = await purchase_stub.ListPurchases(
        papi.ListPurchasesRequest(parent=target.name), metadata=md(), timeout=TIMEOUT
    )
    assert list(listed.purchases) == [recorded]


async def test_replayed_order_changes_nothing(customer_service, purchase_stub, customer_stub, db):
    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    p = purchase(line("W-1", "1000"), store=store, order_id=f"pos-{uid()}")
    first = await record(purchase_stub, target.name, p)
    again = await record(purchase_stub, target.name, p)
    assert again == first
    assert await scalar(db, "SELECT count(*) FROM purchases WHERE order_id = %s", p.order_id) == 1
    assert await events_of(db, RECORDED, target.name) == 1
    stats = (await get(customer_stub, target.name)).purchase_stats
    assert stats.order_count == 1 and amounts(stats.lifetime_value) == {"EUR": Decimal(1000)}


async def test_same_order_id_on_another_channel_is_another_order(customer_service, purchase_stub, customer_stub):
    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    order_id = f"o-{uid()}"
    a = await record(purchase_stub, target.name, purchase(line("A", "10"), store=store, order_id=order_id))
    b = await record(purchase_stub, target.name, purchase(line("A", "10"), channel=ONLINE, order_id=order_id))
    assert a.name != b.name


async def test_event_carries_home_store_and_assisting_associate(customer_service, purchase_stub, customer_stub, db):
    from atelier.events.v1 import customer_events_pb2, envelope_pb2

    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    await known_staff(customer_service, store, associate_id="a-9")
    recorded = await record(
        purchase_stub, target.name, purchase(line("A", "10"), store=store, associate="associates/a-9")
    )
    cur = await db.execute("SELECT envelope FROM outbox WHERE event_type = %s", (RECORDED,))
    payloads = []
    for (raw,) in await cur.fetchall():
        env = envelope_pb2.EventEnvelope.FromString(raw)
        if env.subject == target.name:
            msg = customer_events_pb2.PurchaseRecorded()
            env.payload.Unpack(msg)
            payloads.append(msg)
    assert len(payloads) == 1
    assert payloads[0].home_store == store and payloads[0].purchase == recorded
    assert payloads[0].purchase.assisting_associate == "associates/a-9" and not payloads[0].customer_created


async def test_unknown_client_at_the_till_is_created_in_the_purchase_store(
    customer_service, purchase_stub, customer_stub, db
):
    store = await known_store(customer_service)
    typed, e164 = unique_phone("FR")
    request = papi.RecordPurchaseRequest(
        contact_points=[customer_pb2.ContactPoint(kind=customer_pb2.CONTACT_KIND_PHONE, value=typed)],
        given_name="Inès",
        family_name="Girard",
        locale="fr-FR",
        purchase=purchase(line("R-1", "2500", category="high-jewellery"), store=store),
    )
    clerk = associate(store, f"a-{uid()}")
    recorded = await purchase_stub.RecordPurchase(request, metadata=md(clerk), timeout=TIMEOUT)
    customer_name = recorded.name.split("/purchases/")[0]
    created = await get(customer_stub, customer_name)
    assert created.home_store == store and created.given_name == "Inès"
    # The associate at the till holds her new client at once, as with CreateCustomer.
    assert (await get(customer_stub, customer_name, clerk)).name == customer_name
    assert [c.value for c in created.contact_points] == [e164]
    assert created.purchase_stats.order_count == 1
    assert await events_of(db, "atelier.customer.created", customer_name) == 1
    assert await events_of(db, RECORDED, customer_name) == 1


async def test_unknown_client_is_matched_by_normalised_contact_point(
    customer_service, purchase_stub, customer_stub, db
):
    store = await known_store(customer_service)
    typed, e164 = unique_phone("FR")
    typed_mail, _ = unique_email()
    known = await create(
        customer_stub,
        home_store=store,
        contact_points=[customer_pb2.ContactPoint(kind=customer_pb2.CONTACT_KIND_WHATSAPP, value=e164)],
    )
    before = await scalar(db, "SELECT count(*) FROM customers")
    request = papi.RecordPurchaseRequest(
        # The e-mail is new; the phone (typed nationally) is her WhatsApp number.
        contact_points=[
            customer_pb2.ContactPoint(kind=customer_pb2.CONTACT_KIND_EMAIL, value=typed_mail),
            customer_pb2.ContactPoint(kind=customer_pb2.CONTACT_KIND_PHONE, value=typed),
        ],
        locale="fr-FR",
        purchase=purchase(line("S-1", "300"), store=store),
    )
    recorded = await purchase_stub.RecordPurchase(request, metadata=md(manager(store)), timeout=TIMEOUT)
    assert recorded.name.startswith(known.name + "/purchases/")
    assert await scalar(db, "SELECT count(*) FROM customers") == before
    assert await events_of(db, "atelier.customer.created", known.name) == 1  # only her own creation


async def test_unknown_client_needs_a_name_to_be_created(customer_service, purchase_stub):
    _, e164 = unique_phone("FR")
    request = papi.RecordPurchaseRequest(
        contact_points=[customer_pb2.ContactPoint(kind=customer_pb2.CONTACT_KIND_PHONE, value=e164)],
        purchase=purchase(line("S-1", "300"), store=await known_store(customer_service)),
    )
    assert await invalid_fields(purchase_stub.RecordPurchase(request, metadata=md(), timeout=TIMEOUT)) == ["given_name"]


async def test_validation_names_every_bad_field_and_changes_nothing(customer_service, purchase_stub, customer_stub, db):
    target = await create(customer_stub, home_store=await known_store(customer_service))
    bad = purchase(
        line("", "10"),
        line("B", "10", quantity=0),
        line("C", "10", currency="XYZ"),
        line("D", "10", currency="USD"),
    )
    bad.order_id = "  "
    bad.lines[0].unit_price.nanos = 5
    bad.lines.add(sku="E", quantity=1, unit_price=dict(currency_code="EUR", units=1, nanos=-5))
    bad.lines.add(sku="F", quantity=1, unit_price=dict(currency_code="EUR", units=0, nanos=1_000_000_000))
    bad.order_time.CopyFrom(purchase().order_time)
    bad.order_time.seconds += 86400 * 3
    before = await scalar(db, "SELECT count(*) FROM purchases")
    fields = await invalid_fields(record(purchase_stub, target.name, bad))
    assert fields == [
        "purchase.order_id",
        "purchase.store",
        "purchase.order_time",
        "purchase.lines[0].sku",
        "purchase.lines[1].quantity",
        "purchase.lines[2].unit_price.currency_code",
        "purchase.lines[3].unit_price.currency_code",
        "purchase.lines[4].unit_price.nanos",
        "purchase.lines[5].unit_price.nanos",
    ]
    assert await scalar(db, "SELECT count(*) FROM purchases") == before
    assert await invalid_fields(
        purchase_stub.RecordPurchase(
            papi.RecordPurchaseRequest(purchase=purchase(line("A", "1"), store=await known_store(customer_service))),
            metadata=md(),
            timeout=TIMEOUT,
        )
    ) == ["customer"]
    dup = purchase(line("A", "1", line_id="x"), line("B", "1", line_id="x"), store=await known_store(customer_service))
    assert await invalid_fields(record(purchase_stub, target.name, dup)) == ["purchase.lines[1].line_id"]


async def test_stats_per_currency_average_order_value_and_favourite_categories(
    customer_service, purchase_stub, customer_stub
):
    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    first = ago(days=300)
    await record(purchase_stub, target.name, purchase(line("A", "1000", 2, "watches"), store=store, when=first))
    await record(purchase_stub, target.name, purchase(line("B", "500", 1, "leather-goods"), store=store, when=ago(40)))
    await record(
        purchase_stub,
        target.name,
        purchase(line("C", "9000", 1, "high-jewellery", currency="CNY"), channel=ONLINE, when=ago(10)),
    )
    stats = (await get(customer_stub, target.name)).purchase_stats
    assert stats.order_count == 3
    assert amounts(stats.lifetime_value) == {"EUR": Decimal(2500), "CNY": Decimal(9000)}
    assert amounts(stats.average_order_value) == {"EUR": Decimal(1250), "CNY": Decimal(9000)}
    assert stats.first_purchase_time.seconds == int(first.timestamp())
    # Shares of spend per currency, weighted by orders: EUR watches 80% × 2, CNY jewellery 100% × 1.
    assert stats.favourite_categories == ["watches", "high-jewellery", "leather-goods"]


async def test_authorisation_like_the_customer_rpcs(customer_service, purchase_stub, customer_stub):
    from tests.customer.support import denied_reason

    paris, milan = await known_store(customer_service), await known_store(customer_service)
    in_milan = await create(customer_stub, home_store=milan)
    p = purchase(line("A", "10"), store=paris)
    assert await denied_reason(record(purchase_stub, in_milan.name, p, associate(paris))) == "CUSTOMER_OUT_OF_SCOPE"
    assert await denied_reason(record(purchase_stub, in_milan.name, p, manager(paris))) == "CUSTOMER_OUT_OF_SCOPE"
    # A new client at a Paris associate's till cannot be created in Milan.
    _, e164 = unique_phone("FR")
    unknown = papi.RecordPurchaseRequest(
        contact_points=[customer_pb2.ContactPoint(kind=customer_pb2.CONTACT_KIND_PHONE, value=e164)],
        given_name="Anna",
        purchase=purchase(line("A", "10"), store=milan),
    )
    assert (
        await denied_reason(purchase_stub.RecordPurchase(unknown, metadata=md(associate(paris)), timeout=TIMEOUT))
        == "STORE_OUT_OF_SCOPE"
    )
    # POS integrations (role service) record for anyone.
    from servicekit.auth import Principal, Role

    pos = Principal(subject="services/pos", role=Role.SERVICE)
    pos_sale = purchase(line("A", "10"), store=milan)
    recorded = await record(purchase_stub, in_milan.name, pos_sale, pos)
    assert (
        await denied_reason(
            purchase_stub.GetPurchase(
                papi.GetPurchaseRequest(name=recorded.name), metadata=md(associate(paris)), timeout=TIMEOUT
            )
        )
        == "CUSTOMER_OUT_OF_SCOPE"
    )
    assert (
        await denied_reason(
            purchase_stub.ListPurchases(
                papi.ListPurchasesRequest(parent=in_milan.name), metadata=md(manager(paris)), timeout=TIMEOUT
            )
        )
        == "CUSTOMER_OUT_OF_SCOPE"
    )
    # A replay by someone who cannot see the customer learns nothing either: a Paris
    # associate does not record sales of the Milan till at all.
    assert await denied_reason(record(purchase_stub, in_milan.name, pos_sale, associate(paris))) == "STORE_OUT_OF_SCOPE"


async def test_list_purchases_pages_newest_first(customer_service, purchase_stub, customer_stub):
    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    made = [
        await record(purchase_stub, target.name, purchase(line("A", "10"), store=store, when=ago(days=d)))
        for d in (5, 1, 3)
    ]
    seen, token = [], ""
    while True:
        page = await purchase_stub.ListPurchases(
            papi.ListPurchasesRequest(parent=target.name, page_size=2, page_token=token), metadata=md(), timeout=TIMEOUT
        )
        seen += list(page.purchases)
        token = page.next_page_token
        if not token:
            break
    assert [p.name for p in seen] == [made[1].name, made[2].name, made[0].name]


async def test_unknown_purchase_is_not_found(customer_service, purchase_stub, customer_stub):
    target = await create(customer_stub, home_store=await known_store(customer_service))
    exc = await rpc_error(
        purchase_stub.GetPurchase(
            papi.GetPurchaseRequest(name=f"{target.name}/purchases/{uid()}"), metadata=md(), timeout=TIMEOUT
        )
    )
    assert exc.code() == grpc.StatusCode.NOT_FOUND
    assert await invalid_fields(
        purchase_stub.GetPurchase(papi.GetPurchaseRequest(name="customers/x"), metadata=md(), timeout=TIMEOUT)
    ) == ["name"]


async def test_concurrent_replays_of_one_order_record_it_once(customer_service, purchase_stub, customer_stub, db):
    import asyncio

    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    p = purchase(line("A", "100"), store=store)
    results = await asyncio.gather(*(record(purchase_stub, target.name, p) for _ in range(6)))
    assert len({r.name for r in results}) == 1
    assert await scalar(db, "SELECT count(*) FROM purchases WHERE order_id = %s", p.order_id) == 1
    assert await events_of(db, RECORDED, target.name) == 1
    assert (await get(customer_stub, target.name)).purchase_stats.order_count == 1


async def test_concurrent_first_purchases_of_one_unknown_client_create_her_once(customer_service, purchase_stub, db):
    import asyncio

    store = await known_store(customer_service)
    _, e164 = unique_phone("FR")

    def order():
        return papi.RecordPurchaseRequest(
            contact_points=[customer_pb2.ContactPoint(kind=customer_pb2.CONTACT_KIND_PHONE, value=e164)],
            given_name="Aoi",
            purchase=purchase(line("A", "100"), store=store),
        )

    results = await asyncio.gather(
        *(purchase_stub.RecordPurchase(order(), metadata=md(), timeout=TIMEOUT) for _ in range(4))
    )
    owners = {r.name.split("/purchases/")[0] for r in results}
    assert len(owners) == 1 and len({r.name for r in results}) == 4
    assert await scalar(db, "SELECT count(*) FROM customers WHERE home_store = %s", store) == 1
    assert await events_of(db, "atelier.customer.created", owners.pop()) == 1


async def test_a_sale_is_credited_only_to_an_active_associate_of_its_store(
    customer_service, purchase_stub, customer_stub
):
    """Re-audit: RecordPurchase credited an associate of another store, or one nobody
    knows. The assisting associate is an active member of staff of the purchase's store."""
    store, elsewhere = await known_store(customer_service), await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    ours = await known_staff(customer_service, store)
    theirs = await known_staff(customer_service, elsewhere)
    away = await known_staff(customer_service, store, status="on_leave")
    for credited in (theirs, away):
        p = purchase(line("A", "10"), store=store, associate=f"associates/{credited.associate_id}")
        assert await invalid_fields(record(purchase_stub, target.name, p)) == ["purchase.assisting_associate"]
    nobody = purchase(line("A", "10"), store=store, associate=f"associates/nobody-{uid()}")
    assert await invalid_fields(record(purchase_stub, target.name, nobody)) == ["purchase.assisting_associate"]
    p = purchase(line("A", "10"), store=store, associate=f"associates/{ours.associate_id}")
    assert (await record(purchase_stub, target.name, p)).assisting_associate == f"associates/{ours.associate_id}"


async def test_store_staff_record_sales_of_their_own_store_only(customer_service, purchase_stub, customer_stub):
    """Re-audit: an associate recorded a sale in another store's till (its figures). Store
    staff record their own store's sales; headquarters any store's."""
    store, elsewhere = await known_store(customer_service), await known_store(customer_service)
    clerk = associate(store, f"a-{uid()}")
    target = await create(customer_stub, clerk, home_store=store)
    for staff in (clerk, manager(store)):
        p = purchase(line("A", "10"), store=elsewhere)
        assert await denied_reason(record(purchase_stub, target.name, p, staff)) == "STORE_OUT_OF_SCOPE"
    assert (await record(purchase_stub, target.name, purchase(line("A", "10"), store=store), clerk)).store == store
    assert (await record(purchase_stub, target.name, purchase(line("A", "10"), store=elsewhere))).store == elsewhere


async def test_a_replayed_till_sale_names_no_customer_out_of_reach(customer_service, purchase_stub, customer_stub):
    """Re-audit: replaying a till sale (same order, same e-mail) as someone who does not
    reach its customer answered 403 naming the customer who owns the e-mail. The refusal
    names no customer; another store's staff are refused the other store's till."""
    paris, milan = await known_store(customer_service), await known_store(customer_service)
    _, typed = unique_email()
    point = customer_pb2.ContactPoint(kind=customer_pb2.CONTACT_KIND_EMAIL, value=typed)
    owner = await create(customer_stub, home_store=paris, contact_points=[point])
    sale = papi.RecordPurchaseRequest(
        contact_points=[point], given_name="Lin", purchase=purchase(line("A", "10"), store=paris)
    )
    first = await purchase_stub.RecordPurchase(sale, metadata=md(manager(paris)), timeout=TIMEOUT)
    assert first.name.startswith(owner.name + "/")
    # A Paris associate who does not hold her, then Milan's staff, replay the same sale.
    for stranger in (associate(paris, f"a-{uid()}"), associate(milan, f"a-{uid()}"), manager(milan)):
        exc = await rpc_error(purchase_stub.RecordPurchase(sale, metadata=md(stranger), timeout=TIMEOUT))
        assert exc.code() == grpc.StatusCode.PERMISSION_DENIED, exc.details()
        assert owner.name.split("/")[1] not in exc.details() + str(error_info(exc))
