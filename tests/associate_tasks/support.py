"""Helpers: seed stores / associates / assignments, build and publish customer events,
wait for their effects. Every test makes its own ids (uuid-based)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

from google.protobuf import struct_pb2, timestamp_pb2
from google.type import money_pb2

from atelier.common.v1 import common_pb2
from atelier.customer.v1 import customer_pb2, interaction_pb2, purchase_pb2
from atelier.events.v1 import associate_events_pb2 as aev, customer_events_pb2 as cev
from servicekit.auth import Principal, Role
from servicekit.events import new_envelope
from tests.conftest import metadata_for

TIMEOUT = 10


def uid() -> str:
    return uuid.uuid4().hex[:12]


def ts(value: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def md(principal: Principal) -> tuple:
    return metadata_for(principal)


def associate_p(store: str, associate_id: str) -> Principal:
    return Principal(f"associates/{associate_id}", Role.ASSOCIATE, associate_id=associate_id, store=f"stores/{store}")


def manager_p(store: str) -> Principal:
    return Principal(f"staff/mgr-{store}", Role.MANAGER, associate_id=f"mgr-{store}", store=f"stores/{store}")


def hq_p() -> Principal:
    return Principal("staff/hq-1", Role.HQ)


async def seed_store(db, time_zone: str = "Europe/Paris", associates: tuple[str, ...] = ()) -> tuple[str, list[str]]:
    """A store (bare id) with active associates (bare ids)."""
    store = f"s-{uid()}"
    await db.execute(
        "INSERT INTO stores (id, code, display_name, time_zone) VALUES (%s, %s, %s, %s)",
        (store, store.upper(), f"Store {store}", time_zone),
    )
    ids = []
    for name in associates or ("a",):
        aid = f"{name}-{uid()}"
        await db.execute(
            "INSERT INTO associates (id, store_id, display_name, role, status, capacity, referral_code) "
            "VALUES (%s, %s, %s, 1, 1, 100, %s)",
            (aid, store, aid, f"R{uid()}"),
        )
        ids.append(aid)
    return store, ids


async def assign(db, customer_id: str, associate_id: str, reason: int = 2, when: datetime | None = None) -> None:
    await db.execute(
        "INSERT INTO assignments (customer_id, associate_id, role, reason) VALUES (%s, %s, 1, %s)",
        (customer_id, associate_id, reason),
    )
    await db.execute(
        "INSERT INTO assignment_history (customer_id, role, associate, reason, actor, change_time) "
        "VALUES (%s, 1, %s, %s, 'test', %s)",
        (customer_id, associate_id, reason, when or datetime.now(timezone.utc)),
    )


def purchase_recorded(
    customer_id: str,
    *,
    store: str,
    order_time: datetime,
    amount: int = 1000,
    currency: str = "EUR",
    channel: int = purchase_pb2.SALES_CHANNEL_STORE,
    assisting: str = "",
    customer_created: bool = False,
    purchase_id: str | None = None,
):
    purchase = purchase_pb2.Purchase(
        name=f"customers/{customer_id}/purchases/{purchase_id or uid()}",
        channel=channel,
        order_id=f"o-{uid()}",
        store=f"stores/{store}" if store else "",
        assisting_associate=f"associates/{assisting}" if assisting else "",
        order_time=ts(order_time),
        total=money_pb2.Money(currency_code=currency, units=amount),
    )
    purchase.lines.add(sku="sku-1", quantity=1, unit_price=money_pb2.Money(currency_code=currency, units=amount))
    payload = cev.PurchaseRecorded(
        customer=f"customers/{customer_id}", purchase=purchase, home_store=f"stores/{store}" if store else "",
        customer_created=customer_created,
    )
    return new_envelope(
        event_type="atelier.customer.purchase_recorded", source="customer", subject=purchase.name, payload=payload,
        actor="staff/pos",
    )


def interaction_recorded(
    customer_id: str,
    *,
    kind: int,
    occur_time: datetime,
    direction: int = 0,
    channel: int = common_pb2.CHANNEL_UNSPECIFIED,
    store: str = "",
    associate: str = "",
):
    interaction = interaction_pb2.Interaction(
        name=f"customers/{customer_id}/interactions/{uid()}",
        kind=kind,
        direction=direction,
        channel=channel,
        store=f"stores/{store}" if store else "",
        associate=f"associates/{associate}" if associate else "",
        occur_time=ts(occur_time),
    )
    payload = cev.InteractionRecorded(customer=f"customers/{customer_id}", interaction=interaction)
    return new_envelope(
        event_type="atelier.customer.interaction_recorded", source="customer", subject=interaction.name,
        payload=payload, actor="services/atelier",
    )


def customer_created(customer_id: str, *, store: str, dates: list[tuple[int, int, int]] = ()):
    customer = customer_pb2.Customer(name=f"customers/{customer_id}", given_name="Hélène", home_store=f"stores/{store}")
    for kind, month, day in dates:
        d = customer.important_dates.add(kind=kind)
        d.date.month, d.date.day = month, day
    payload = cev.CustomerCreated(customer=customer)
    return new_envelope(
        event_type="atelier.customer.created", source="customer", subject=customer.name, payload=payload,
        actor="staff/x",
    )


def assignment_changed(customer_id: str, *, previous: str, associate: str, store: str):
    payload = aev.AssignmentChanged(
        customer=f"customers/{customer_id}", role=aev.ASSIGNMENT_ROLE_PRIMARY,
        previous_associate=f"associates/{previous}" if previous else "", associate=f"associates/{associate}",
        store=f"stores/{store}", reason=aev.ASSIGNMENT_REASON_TRANSFER,
    )
    return new_envelope(
        event_type="atelier.associate.assignment_changed", source="associate", subject=f"customers/{customer_id}",
        payload=payload, actor="staff/x",
    )


def appointment_booked(customer_id: str, *, appointment: str, associate: str, store: str, start: datetime):
    """A booking as the appointments service would send it; its contract is not generated
    yet, so the payload is a Struct carrying the same field names."""
    payload = struct_pb2.Struct()
    payload.update(
        {
            "appointment": {
                "name": f"appointments/{appointment}",
                "customer": f"customers/{customer_id}",
                "associate": f"associates/{associate}",
                "store": f"stores/{store}",
                "start_time": start.isoformat().replace("+00:00", "Z"),
            }
        }
    )
    return new_envelope(
        event_type="atelier.appointments.booked", source="appointments", subject=f"appointments/{appointment}",
        payload=payload, actor="staff/x",
    )


async def publish(service, *envelopes) -> None:
    """Into the running service's stream, as the outbox relay would (Nats-Msg-Id = id)."""
    runtime = service.runtime
    for envelope in envelopes:
        await runtime.js.publish(
            runtime.bus.subject(envelope.type), envelope.SerializeToString(), headers={"Nats-Msg-Id": envelope.id}
        )


async def wait_for(db, query: str, params: tuple, predicate=lambda rows: bool(rows), attempts: int = 200) -> list:
    """Polls until the rows satisfy `predicate` (bounded); returns them."""
    rows = []
    for _ in range(attempts):
        rows = await (await db.execute(query, params)).fetchall()
        if predicate(rows):
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition never met; last rows: {rows}")


async def settle(service) -> None:
    """Waits until the task and attribution consumers have caught up with the stream (no
    pending messages); the service's other consumers are not waited for."""
    runtime = service.runtime
    mine = [c for c in runtime.consumers if c.durable.endswith(("-tasks", "-attribution"))]
    assert len(mine) == 2
    for _ in range(200):
        pending = 0
        for consumer in mine:
            info = await runtime.js.consumer_info(runtime.bus.stream, consumer.durable)
            pending += info.num_pending + info.num_ack_pending
        if pending == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("consumers never caught up")
