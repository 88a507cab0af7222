"""Helpers of the associate service's tests: unique stores and staff per test, customer
events as the customer service publishes them, rows seeded and read directly, and the
rich errors an RPC fails with. Every test makes its own ids (uuid-based)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import grpc
from google.protobuf import field_mask_pb2, struct_pb2, timestamp_pb2
from google.rpc import error_details_pb2, status_pb2
from google.type import dayofweek_pb2, money_pb2
from grpc_status import rpc_status

from atelier.associate.v1 import associate_pb2, store_pb2
from atelier.associate.v1 import associate_service_pb2 as api
from atelier.common.v1 import common_pb2
from atelier.customer.v1 import customer_pb2, interaction_pb2, purchase_pb2
from atelier.events.v1 import associate_events_pb2 as aev
from atelier.events.v1 import customer_events_pb2 as cev
from atelier.events.v1 import envelope_pb2
from servicekit import event_types
from servicekit.auth import Principal, Role
from servicekit.events import new_envelope
from tests.conftest import hq, metadata_for

TIMEOUT = 10
ASSOCIATE = associate_pb2.StaffRole.STAFF_ROLE_ASSOCIATE
MANAGER = associate_pb2.StaffRole.STAFF_ROLE_MANAGER


def uid() -> str:
    return uuid.uuid4().hex[:12]


def md(principal: Principal) -> tuple:
    return metadata_for(principal)


def ts(value: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def aid(msg) -> str:
    """The bare id of a resource message (`associates/a-1` → `a-1`)."""
    return msg.name.split("/")[1]


# -- principals with bare store ids (the task and performance tests) -----------------


def associate_p(store: str, associate_id: str) -> Principal:
    return Principal(f"associates/{associate_id}", Role.ASSOCIATE, associate_id=associate_id, store=f"stores/{store}")


def manager_p(store: str) -> Principal:
    return Principal(f"staff/mgr-{store}", Role.MANAGER, associate_id=f"mgr-{store}", store=f"stores/{store}")


def hq_p() -> Principal:
    return Principal("staff/hq-1", Role.HQ)


# -- errors --------------------------------------------------------------------------


async def rpc_error(awaitable) -> grpc.aio.AioRpcError:
    """The error an RPC fails with; fails the test when it succeeds."""
    try:
        result = await awaitable
    except grpc.aio.AioRpcError as exc:
        return exc
    raise AssertionError(f"expected the call to fail, it returned {result!r}")


def rich_status(exc: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The google.rpc.Status the server attached (grpc-status-details-bin)."""
    status = rpc_status.from_call(exc)
    assert status is not None, f"no rich status on {exc.code()}: {exc.details()}"
    assert status.code == exc.code().value[0]
    return status


def _details(exc: grpc.aio.AioRpcError, cls):
    found = []
    for detail in rich_status(exc).details:
        if detail.Is(cls.DESCRIPTOR):
            msg = cls()
            detail.Unpack(msg)
            found.append(msg)
    return found


def error_info(exc: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    infos = _details(exc, error_details_pb2.ErrorInfo)
    assert len(infos) == 1, f"expected one ErrorInfo, got {infos}"
    return infos[0]


def bad_fields(exc: grpc.aio.AioRpcError) -> list[str]:
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, f"{exc.code()}: {exc.details()}"
    requests = _details(exc, error_details_pb2.BadRequest)
    assert len(requests) == 1, f"expected one BadRequest, got {requests}"
    return [v.field for v in requests[0].field_violations]


async def invalid_fields(awaitable) -> list[str]:
    """The fields an INVALID_ARGUMENT names."""
    return bad_fields(await rpc_error(awaitable))


async def denied_reason(awaitable) -> str:
    exc = await rpc_error(awaitable)
    assert exc.code() == grpc.StatusCode.PERMISSION_DENIED, f"{exc.code()}: {exc.details()}"
    info = error_info(exc)
    assert info.domain == "atelier.dev"
    return info.reason


# -- stores and staff through the API ----------------------------------------------


def new_store_message(**fields) -> store_pb2.Store:
    fields.setdefault("code", f"T-{uid()}")
    fields.setdefault("display_name", "Boutique Faubourg")
    fields.setdefault("time_zone", "Europe/Paris")
    fields.setdefault("region", "EMEA")
    store = store_pb2.Store(**fields)
    hours = store.weekly_hours.add(day=dayofweek_pb2.MONDAY)
    hours.open_time.hours, hours.close_time.hours = 10, 19
    return store


async def make_store(stub, **fields) -> store_pb2.Store:
    return await stub.CreateStore(
        api.CreateStoreRequest(store=new_store_message(**fields), store_id=f"s-{uid()}"),
        metadata=md(hq()),
        timeout=TIMEOUT,
    )


async def make_associate(
    stub, store: str, *, capacity: int = 100, role=ASSOCIATE, associate_id: str = "", principal=None, **fields
) -> associate_pb2.Associate:
    fields.setdefault("display_name", "Camille Martin")
    return await stub.CreateAssociate(
        api.CreateAssociateRequest(
            associate=associate_pb2.Associate(store=store, role=role, capacity=capacity, **fields),
            associate_id=associate_id or f"a-{uid()}",
        ),
        metadata=md(principal or hq()),
        timeout=TIMEOUT,
    )


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


# -- stores, staff and assignments seeded in the database --------------------------


async def seed_store(db, time_zone: str = "Europe/Paris", associates: tuple[str, ...] = ()) -> tuple[str, list[str]]:
    """A store (bare id) with active associates (bare ids)."""
    store = f"s-{uid()}"
    await db.execute(
        "INSERT INTO stores (id, code, display_name, time_zone) VALUES (%s, %s, %s, %s)",
        (store, store.upper(), f"Store {store}", time_zone),
    )
    ids = []
    for name in associates or ("a",):
        associate_id = f"{name}-{uid()}"
        await db.execute(
            "INSERT INTO associates (id, store_id, display_name, role, status, capacity, referral_code) "
            "VALUES (%s, %s, %s, 1, 1, 100, %s)",
            (associate_id, store, associate_id, f"R{uid()}"),
        )
        ids.append(associate_id)
    return store, ids


async def assign(db, customer_id: str, associate_id: str, reason: int = 2, when: datetime | None = None) -> None:
    await db.execute(
        "INSERT INTO assignments (customer_id, associate_id, role, reason) VALUES (%s, %s, 1, %s)",
        (customer_id, associate_id, reason),
    )
    await db.execute(
        "INSERT INTO assignment_history (customer_id, role, associate, reason, actor, change_time) "
        "VALUES (%s, 1, %s, %s, 'test', %s)",
        (customer_id, associate_id, reason, when or datetime.now(UTC)),
    )


async def known_customer(db, store: str, holder: str = "") -> str:
    """A customer of `store` (bare) the service has heard of, held by `holder` (bare) when
    named; her id."""
    customer_id = f"c-{uid()}"
    await db.execute(
        "INSERT INTO customer_homes (customer_id, home_store) VALUES (%s, %s)", (customer_id, f"stores/{store}")
    )
    if holder:
        await db.execute(
            "INSERT INTO assignments (customer_id, associate_id, role, reason) VALUES (%s, %s, 1, 1)",
            (customer_id, holder),
        )
    return customer_id


async def seed_book(adb, associate_id: str, n: int, *, secondary: int = 0) -> list[str]:
    """Give her `n` customers (and `secondary` secondary holdings) the way the rules would."""
    tag = uid()
    await adb.execute(
        "INSERT INTO assignments (customer_id, associate_id, role, reason) "
        "SELECT 'c-' || %s || '-' || lpad(g::text, 5, '0'), %s, 1, 2 FROM generate_series(1, %s) g",
        (tag, associate_id, n),
    )
    await adb.execute("UPDATE associates SET book_size = book_size + %s WHERE id = %s", (n, associate_id))
    if secondary:
        await adb.execute(
            "INSERT INTO assignments (customer_id, associate_id, role, reason) "
            "SELECT 's-' || %s || '-' || g, %s, 2, 4 FROM generate_series(1, %s) g",
            (tag, associate_id, secondary),
        )
    return [f"c-{tag}-{i:05d}" for i in range(1, n + 1)]


async def primary_of(adb, customer_id: str):
    row = await (
        await adb.execute(
            "SELECT associate_id, reason FROM assignments WHERE customer_id = %s AND role = 1", (customer_id,)
        )
    ).fetchone()
    return row


async def bound(adb, customer_id: str):
    """(associate, reason) once she has a primary associate."""
    return await eventually(lambda: primary_of(adb, customer_id))


async def holders(adb, customers: list[str]) -> dict[str, str]:
    rows = await (
        await adb.execute(
            "SELECT customer_id, associate_id FROM assignments WHERE role = 1 AND customer_id = ANY(%s)", (customers,)
        )
    ).fetchall()
    return dict(rows)


async def assignment_events(adb) -> list[aev.AssignmentChanged]:
    """Every assignment_changed in the outbox, oldest first."""
    rows = await (
        await adb.execute(
            "SELECT envelope FROM outbox WHERE event_type = %s ORDER BY seq", (event_types.ASSIGNMENT_CHANGED,)
        )
    ).fetchall()
    out = []
    for (raw,) in rows:
        payload = aev.AssignmentChanged()
        envelope_pb2.EventEnvelope.FromString(raw).payload.Unpack(payload)
        out.append(payload)
    return out


async def hand_over_events(adb, departed: str) -> list[aev.AssignmentChanged]:
    return [
        e
        for e in await assignment_events(adb)
        if e.previous_associate == f"associates/{departed}" and e.reason == aev.ASSIGNMENT_REASON_HAND_OVER
    ]


# -- customer events, as the customer service publishes them ---------------------------


def customer_created(
    customer_id: str, home_store: str = "", *, referral_code: str = "", actor: str = "staff/hq-1", **fields
):
    customer = customer_pb2.Customer(
        name=f"customers/{customer_id}", home_store=home_store, referral_code=referral_code, **fields
    )
    return new_envelope(
        event_type=event_types.CUSTOMER_CREATED,
        source="customer",
        subject=customer.name,
        payload=cev.CustomerCreated(customer=customer, referral_code=referral_code),
        actor=actor,
    )


def merged(survivor: str, duplicate: str):
    return new_envelope(
        event_type=event_types.CUSTOMER_MERGED,
        source="customer",
        subject=f"customers/{survivor}",
        payload=cev.CustomerMerged(survivor=f"customers/{survivor}", duplicate=f"customers/{duplicate}"),
        actor="staff/x",
    )


def erased(customer_id: str):
    return new_envelope(
        event_type=event_types.CUSTOMER_ERASED,
        source="customer",
        subject=f"customers/{customer_id}",
        payload=cev.CustomerErased(customer=f"customers/{customer_id}"),
        actor="staff/x",
    )


def customer_with_dates(customer_id: str, *, store: str, dates: list[tuple[int, int, int]] = ()):
    """customer.created of a customer of `store` (bare) with important dates (kind, month, day)."""
    customer = customer_pb2.Customer(name=f"customers/{customer_id}", given_name="Hélène", home_store=f"stores/{store}")
    for kind, month, day in dates:
        d = customer.important_dates.add(kind=kind)
        d.date.month, d.date.day = month, day
    return new_envelope(
        event_type=event_types.CUSTOMER_CREATED,
        source="customer",
        subject=customer.name,
        payload=cev.CustomerCreated(customer=customer),
        actor="staff/x",
    )


def qr_scan(customer_id: str, referral_code: str):
    interaction = interaction_pb2.Interaction(
        kind=interaction_pb2.INTERACTION_KIND_QR_SCAN, referral_code=referral_code
    )
    interaction.occur_time.GetCurrentTime()
    return new_envelope(
        event_type=event_types.INTERACTION_RECORDED,
        source="customer",
        subject=f"customers/{customer_id}",
        payload=cev.InteractionRecorded(customer=f"customers/{customer_id}", interaction=interaction),
        actor="services/x",
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
        customer=f"customers/{customer_id}",
        purchase=purchase,
        home_store=f"stores/{store}" if store else "",
        customer_created=customer_created,
    )
    return new_envelope(
        event_type=event_types.PURCHASE_RECORDED,
        source="customer",
        subject=purchase.name,
        payload=payload,
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
        event_type=event_types.INTERACTION_RECORDED,
        source="customer",
        subject=interaction.name,
        payload=payload,
        actor="services/atelier",
    )


def assignment_changed(customer_id: str, *, previous: str, associate: str, store: str):
    payload = aev.AssignmentChanged(
        customer=f"customers/{customer_id}",
        role=aev.ASSIGNMENT_ROLE_PRIMARY,
        previous_associate=f"associates/{previous}" if previous else "",
        associate=f"associates/{associate}",
        store=f"stores/{store}",
        reason=aev.ASSIGNMENT_REASON_TRANSFER,
    )
    return new_envelope(
        event_type=event_types.ASSIGNMENT_CHANGED,
        source="associate",
        subject=f"customers/{customer_id}",
        payload=payload,
        actor="staff/x",
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
        event_type=event_types.APPOINTMENT_BOOKED,
        source="appointments",
        subject=f"appointments/{appointment}",
        payload=payload,
        actor="staff/x",
    )


# -- the stream and waiting for effects ----------------------------------------------


async def publish(service, *envelopes) -> None:
    """Into the running service's stream, as the outbox relay would (Nats-Msg-Id = id)."""
    runtime = service.runtime
    for envelope in envelopes:
        await runtime.js.publish(
            runtime.bus.subject(envelope.type), envelope.SerializeToString(), headers={"Nats-Msg-Id": envelope.id}
        )


async def eventually(probe, *, attempts: int = 300, delay: float = 0.05):
    """Poll `probe()` until it returns something truthy; fails after a bounded wait."""
    for _ in range(attempts):
        value = await probe()
        if value:
            return value
        await asyncio.sleep(delay)
    raise AssertionError("the expected effect never appeared")


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
