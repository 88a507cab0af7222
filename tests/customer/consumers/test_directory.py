"""The `directory` consumer: which stores exist and who works where, in what role and
status, with which referral code, from the associate service's store and associate events
(issue 8, items 7 and 18). Events come over the real bus where the wiring matters, and
through the handler (as the inbox applies them) where their order does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import psycopg
import pytest

from atelier.events.v1 import associate_events_pb2 as ev
from servicekit import event_types
from servicekit.inbox import PoisonEvent
from tests.conftest import manager
from tests.customer.support import (
    create,
    directory_event,
    eventually,
    known_staff,
    known_store,
    new_store,
    publish,
    uid,
)


async def staff_row(db: psycopg.AsyncConnection, associate_id: str) -> tuple | None:
    cur = await db.execute(
        "SELECT store, role, status, referral_code FROM directory_associates WHERE associate_id = %s", (associate_id,)
    )
    return await cur.fetchone()


async def test_store_and_associate_events_on_the_bus_reach_the_directory(customer_service, customer_stub, db):
    store = new_store()
    await publish(customer_service, event_types.STORE_CREATED, ev.StoreChanged(store=store, code="P1"), store)

    async def created() -> bool:
        try:
            await create(customer_stub, manager(store))
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()
            return False
        return True

    await eventually(created, f"a customer of {store} once its store_created event arrived")

    associate_id = f"a-{uid()}"
    name = f"associates/{associate_id}"
    changed = ev.AssociateChanged(associate=name, store=store, role="associate", status="active", referral_code="k-7x")
    await publish(customer_service, event_types.ASSOCIATE_CREATED, changed, name)
    await publish(
        customer_service, event_types.ASSOCIATE_DEPARTED, ev.AssociateDeparted(associate=name, store=store), name
    )

    async def departed() -> bool:
        return await staff_row(db, associate_id) == (store, "associate", "departed", "K7X")

    await eventually(departed, f"{name} known as departed")


async def test_events_apply_in_the_order_they_happened_and_a_departure_is_final(customer_service, db):
    store = await known_store(customer_service)
    t0 = datetime.now(UTC) - timedelta(minutes=10)
    principal = await known_staff(customer_service, store, when=t0)
    associate_id = principal.associate_id
    assert await staff_row(db, associate_id) == (store, "associate", "active", "")

    # A leave, then the older creation delivered again: the leave stands.
    await known_staff(
        customer_service,
        store,
        associate_id=associate_id,
        status="on_leave",
        when=t0 + timedelta(minutes=2),
        event_type=event_types.ASSOCIATE_UPDATED,
    )
    await known_staff(customer_service, store, associate_id=associate_id, when=t0 + timedelta(minutes=1))
    assert (await staff_row(db, associate_id))[2] == "on_leave"

    name = f"associates/{associate_id}"
    departure = ev.AssociateDeparted(associate=name, store=store)
    await directory_event(customer_service, event_types.ASSOCIATE_DEPARTED, departure, name, t0 + timedelta(minutes=3))
    # Nothing after a departure makes her active again.
    await known_staff(
        customer_service,
        store,
        associate_id=associate_id,
        when=t0 + timedelta(minutes=4),
        event_type=event_types.ASSOCIATE_UPDATED,
    )
    assert (await staff_row(db, associate_id))[2] == "departed"


async def test_a_departure_of_an_associate_not_yet_known_is_kept(customer_service, db):
    store = await known_store(customer_service)
    associate_id = f"a-{uid()}"
    name = f"associates/{associate_id}"
    await directory_event(
        customer_service, event_types.ASSOCIATE_DEPARTED, ev.AssociateDeparted(associate=name, store=store), name
    )
    await known_staff(customer_service, store, associate_id=associate_id, when=datetime.now(UTC) - timedelta(hours=1))
    assert await staff_row(db, associate_id) == (store, "", "departed", "")


@pytest.mark.parametrize(
    ("event_type", "payload"),
    [
        (event_types.STORE_CREATED, ev.StoreChanged(store="paris")),
        (event_types.ASSOCIATE_CREATED, ev.AssociateChanged(associate="a-1", store="stores/paris")),
        (event_types.ASSOCIATE_DEPARTED, ev.AssociateDeparted(associate="")),
    ],
    ids=["store-without-collection", "associate-without-collection", "departure-without-name"],
)
async def test_an_event_naming_nothing_is_poison(customer_service, event_type, payload):
    with pytest.raises(PoisonEvent):
        await directory_event(customer_service, event_type, payload, "x")
