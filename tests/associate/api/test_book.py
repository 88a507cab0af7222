"""The client book, served from the read model kept by customer events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.type import money_pb2

from atelier.associate.v1 import associate_service_pb2 as api
from atelier.customer.v1 import customer_pb2, purchase_pb2
from atelier.events.v1 import customer_events_pb2 as cev
from servicekit import event_types
from servicekit.events import new_envelope
from tests.conftest import associate, hq, manager

from ..support import (
    TIMEOUT,
    customer_created,
    denied_reason,
    erased,
    eventually,
    make_associate,
    make_store,
    md,
    merged,
    primary_of,
    publish,
    qr_scan,
    rpc_error,
    uid,
)

VIP = customer_pb2.TIER_VIP


def purchase(customer_id: str, amount: int, when: datetime, currency: str = "EUR", order: str = ""):
    p = purchase_pb2.Purchase(
        name=f"customers/{customer_id}/purchases/{order or uid()}",
        order_id=order or uid(),
        total=money_pb2.Money(currency_code=currency, units=amount),
    )
    p.order_time.FromDatetime(when)
    return new_envelope(
        event_type=event_types.PURCHASE_RECORDED,
        source="customer",
        subject=f"customers/{customer_id}",
        payload=cev.PurchaseRecorded(customer=f"customers/{customer_id}", purchase=p),
        actor="services/pos",
    )


def updated(customer_id: str, **fields):
    customer = customer_pb2.Customer(name=f"customers/{customer_id}", **fields)
    return new_envelope(
        event_type=event_types.CUSTOMER_UPDATED,
        source="customer",
        subject=customer.name,
        payload=cev.CustomerUpdated(customer=customer),
        actor="staff/x",
    )


async def book(stub, parent: str, principal, **kw):
    return await stub.ListClientBook(
        api.ListClientBookRequest(parent=parent, **kw), metadata=md(principal), timeout=TIMEOUT
    )


async def _setup(associate_service, stub, adb):
    store = await make_store(stub)
    holder = await make_associate(stub, store.name)
    base = uid()
    ids = [f"c-{base}-{i}" for i in range(3)]
    now = datetime.now(UTC).replace(microsecond=0)
    await publish(
        associate_service,
        customer_created(
            ids[0], store.name, referral_code=holder.referral_code, given_name="Ada", tier=VIP, tags=["watches"]
        ),
        customer_created(ids[1], store.name, referral_code=holder.referral_code, given_name="Bea"),
        customer_created(ids[2], store.name, referral_code=holder.referral_code, given_name="Cy"),
        purchase(ids[1], 5000, now - timedelta(days=3)),
        purchase(ids[1], 700, now - timedelta(days=1)),
        purchase(ids[0], 900, now - timedelta(days=10)),
        qr_scan(ids[2], "NOSUCHCODE"),
        updated(ids[2], given_name="Cyrielle", tier=VIP),
    )
    for cid in ids:
        await eventually(lambda cid=cid: primary_of(adb, cid))

    async def caught_up():
        row = await (
            await adb.execute("SELECT given_name FROM book_customers WHERE customer_id = %s", (ids[2],))
        ).fetchone()
        orders = await (
            await adb.execute("SELECT order_count FROM book_customers WHERE customer_id = %s", (ids[1],))
        ).fetchone()
        return row and row[0] == "Cyrielle" and orders and orders[0] == 2

    await eventually(caught_up)
    return store, holder, ids, now


async def test_book_shows_the_read_model_sorted_and_filtered(associate_service, associate_stub, adb):
    store, holder, ids, now = await _setup(associate_service, associate_stub, adb)
    me = associate(store.name, holder.name.split("/")[1])
    page = await book(associate_stub, holder.name, me)
    # Last contact, most recent first; the scanned-only customer (no known time) has a scan time.
    assert [e.customer for e in page.entries] == [f"customers/{i}" for i in (ids[2], ids[1], ids[0])]
    bea = page.entries[1]
    assert bea.given_name == "Bea" and bea.order_count == 2
    assert (bea.lifetime_value.currency_code, bea.lifetime_value.units) == ("EUR", 5700)
    assert bea.last_purchase_total.units == 700
    assert bea.last_purchase_time.ToDatetime(tzinfo=UTC) == now - timedelta(days=1)
    by_value = await book(associate_stub, holder.name, me, order_by="lifetime_value desc")
    assert [e.customer for e in by_value.entries][:2] == [f"customers/{ids[1]}", f"customers/{ids[0]}"]
    vips = await book(associate_stub, holder.name, me, filter='tier = TIER_VIP AND tags:"watches"')
    assert [e.customer for e in vips.entries] == [f"customers/{ids[0]}"] and vips.entries[0].tier == "TIER_VIP"


async def test_book_pages_with_keyset_tokens(associate_service, associate_stub, adb):
    _, holder, _, _ = await _setup(associate_service, associate_stub, adb)
    for order in ("last_contact desc", "lifetime_value desc", "next_task asc", "lifetime_value asc"):
        full = await book(associate_stub, holder.name, hq(), order_by=order)
        seen, token = [], ""
        while True:
            page = await book(associate_stub, holder.name, hq(), order_by=order, page_size=1, page_token=token)
            seen += [e.customer for e in page.entries]
            token = page.next_page_token
            if not token:
                break
        assert seen == [e.customer for e in full.entries] and len(seen) == 3
    exc = await rpc_error(book(associate_stub, holder.name, hq(), order_by="price"))
    assert exc.details() and "order_by" in exc.details()


async def test_next_task_comes_from_the_tasks_table(associate_service, associate_stub, adb):
    store, holder, ids, now = await _setup(associate_service, associate_stub, adb)
    task_id = f"t-{uid()}"
    await adb.execute(
        "INSERT INTO tasks (id, kind, rule, customer_id, trigger_key, associate_id, store_id, due_time) "
        "VALUES (%s, 1, 'manual', %s, 'k', %s, %s, %s)",
        (task_id, ids[0], holder.name.split("/")[1], store.name.split("/")[1], now + timedelta(days=2)),
    )

    # The task rules open follow-ups from the three purchases too (wait for them, so the
    # soonest below does not change under the query): the book shows whichever open task
    # is due first.
    async def follow_ups():
        row = await (
            await adb.execute(
                "SELECT count(*) FROM tasks WHERE rule = 'follow_up_purchase' AND customer_id = ANY(%s)", (ids,)
            )
        ).fetchone()
        return row[0] == 3

    await eventually(follow_ups)
    soonest = await (
        await adb.execute(
            "SELECT customer_id, id FROM tasks WHERE associate_id = %s AND status IN (1, 3) ORDER BY due_time, id LIMIT 1",
            (holder.name.split("/")[1],),
        )
    ).fetchone()
    page = await book(associate_stub, holder.name, hq(), order_by="next_task")
    first = page.entries[0]
    assert (first.customer, first.next_task) == (f"customers/{soonest[0]}", f"tasks/{soonest[1]}")
    mine = next(e for e in page.entries if e.customer == f"customers/{ids[2]}")
    if soonest[0] != ids[0]:
        assert any(e.next_task for e in page.entries if e.customer == f"customers/{ids[0]}")
    assert task_id and not mine.HasField("upcoming_appointment_time")


async def test_store_view_and_access(associate_service, associate_stub, adb):
    store, holder, ids, _ = await _setup(associate_service, associate_stub, adb)
    colleague = await make_associate(associate_stub, store.name)
    other = await make_store(associate_stub)
    view = await book(associate_stub, store.name, manager(store.name))
    assert {f"customers/{i}" for i in ids} <= {e.customer for e in view.entries}
    assert (
        await denied_reason(book(associate_stub, holder.name, associate(store.name, colleague.name.split("/")[1])))
        == "ROLE_DENIED"
    )
    assert (
        await denied_reason(book(associate_stub, store.name, associate(store.name, holder.name.split("/")[1])))
        == "ROLE_DENIED"
    )
    assert await denied_reason(book(associate_stub, holder.name, manager(other.name))) == "ROLE_DENIED"


async def test_merge_and_erasure_follow_into_the_book(associate_service, associate_stub, adb):
    _, holder, ids, _ = await _setup(associate_service, associate_stub, adb)
    await publish(associate_service, merged(ids[1], ids[0]), erased(ids[2]))

    async def applied():
        left = await (
            await adb.execute(
                "SELECT customer_id, lifetime_value, order_count FROM book_customers WHERE customer_id = ANY(%s) ORDER BY 1",
                (ids,),
            )
        ).fetchall()
        held = await (
            await adb.execute("SELECT customer_id FROM assignments WHERE customer_id = ANY(%s)", (ids,))
        ).fetchall()
        return (left, held) if len(left) == 1 and len(held) == 1 else None

    left, held = await eventually(applied)
    assert left[0][0] == ids[1] and int(left[0][1]) == 6600 and left[0][2] == 3
    assert held == [(ids[1],)]
    page = await book(associate_stub, holder.name, hq())
    assert [e.customer for e in page.entries] == [f"customers/{ids[1]}"]
