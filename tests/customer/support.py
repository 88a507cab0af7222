"""Helpers for the customer service's tests (fixtures are in conftest.py): profiles,
errors and what the database holds; purchases and the timeline; imports, streams,
merges and privacy.

The service and its database are shared by the whole session, so every test makes its
own stores, names, order ids and contact values unique (uuid-based) and asserts only on
those.

A customer's home store, a purchase's store and a referral code must be known to the
service's directory (the associate service's store and associate events): `known_store`
and `known_staff` apply those events through the `directory` consumer's handler, as the
inbox would, so tests need no associate service. `new_store()` names a store nobody knows.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import grpc
import phonenumbers
import psycopg
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2, status_pb2
from google.type import money_pb2
from grpc_status import rpc_status

from atelier.common.v1 import common_pb2
from atelier.customer.v1 import (
    customer_pb2,
    interaction_pb2,
    purchase_pb2,
    purchase_service_pb2,
    purchase_service_pb2_grpc,
    timeline_service_pb2,
    timeline_service_pb2_grpc,
)
from atelier.customer.v1 import (
    customer_service_pb2 as api,
)
from atelier.events.v1 import associate_events_pb2 as associate_ev
from atelier.events.v1 import envelope_pb2
from servicekit import event_types
from servicekit.auth import SYSTEM, Principal
from servicekit.db import libpq_url
from servicekit.events import new_envelope
from servicekit.uow import in_unit_of_work
from services.customer.consumers import directory as directory_consumer
from tests.conftest import associate, hq, manager, metadata_for

TIMEOUT = 10
Kind = customer_pb2.ContactKind


def uid() -> str:
    return uuid.uuid4().hex[:12]


def new_store() -> str:
    return f"stores/t-{uid()}"


# -- the directory of stores and staff -------------------------------------------


async def directory_event(service, event_type: str, payload, subject: str, when: datetime | None = None) -> None:
    """Apply one store or associate event through the `directory` consumer's handler, in a
    unit of work acting as the platform (as the inbox does)."""
    envelope = new_envelope(event_type=event_type, source="associate", subject=subject, payload=payload, actor="test")
    if when is not None:
        envelope.occurred_at.FromDatetime(when)
    assert envelope.type in directory_consumer.EVENT_TYPES
    async with service.runtime.engine.begin() as conn:
        await in_unit_of_work(conn, SYSTEM, lambda uow: directory_consumer.handle(uow, envelope))


async def publish(service, event_type: str, payload, subject: str) -> None:
    """Publish one event of the associate service on the session's bus, as its outbox
    relay would: the service's own durable consumers take it from there."""
    envelope = new_envelope(event_type=event_type, source="associate", subject=subject, payload=payload, actor="test")
    runtime = service.runtime
    assert runtime.js is not None, "the service is not connected to NATS"
    await runtime.js.publish(
        runtime.bus.subject(event_type), envelope.SerializeToString(), headers={"Nats-Msg-Id": envelope.id}
    )


async def eventually(probe, what: str, seconds: float = 10.0):
    """`probe()`'s first truthy value within `seconds`; fails the test otherwise."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        value = await probe()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"never happened within {seconds}s: {what}")
        await asyncio.sleep(0.05)


async def known_store(service, name: str = "") -> str:
    """A store the service knows (store_created applied), new unless `name` is given."""
    name = name or new_store()
    await directory_event(service, event_types.STORE_CREATED, associate_ev.StoreChanged(store=name), name)
    return name


async def known_staff(
    service,
    store: str,
    *,
    role: str = "associate",
    status: str = "active",
    associate_id: str = "",
    referral_code: str = "",
    when: datetime | None = None,
    event_type: str = event_types.ASSOCIATE_CREATED,
) -> Principal:
    """A member of staff the service knows (associate_created applied) and her principal
    (an HQ principal carrying her associate id for role "hq")."""
    associate_id = associate_id or f"a-{uid()}"
    name = f"associates/{associate_id}"
    payload = associate_ev.AssociateChanged(
        associate=name, store=store, role=role, status=status, referral_code=referral_code
    )
    await directory_event(service, event_type, payload, name, when)
    return staff_principal(store, associate_id, role)


def staff_principal(store: str, associate_id: str, role: str = "associate") -> Principal:
    if role == "manager":
        return Principal(
            subject=f"associates/{associate_id}", role=manager(store).role, associate_id=associate_id, store=store
        )
    if role == "hq":
        return Principal(subject=f"associates/{associate_id}", role=hq().role, associate_id=associate_id)
    return associate(store, associate_id)


async def known_referral_code(service, store: str = "") -> str:
    """A referral code on the card of a new associate the service knows."""
    code = f"QR-{uid()[:8].upper()}"
    await known_staff(service, store or await known_store(service), referral_code=code)
    return code


def letters(n: int = 10) -> str:
    """A random lower-case word (no digits, so it never looks like a phone fragment)."""
    return "".join(random.choice("bcdfghjklmnpqrstvwxz") for _ in range(n))


def unique_phone(region: str = "FR", prefix: str = "6") -> tuple[str, str]:
    """A valid, random number of `region`: (national spelling with spaces, E.164)."""
    code = phonenumbers.country_code_for_region(region)
    while True:
        national = prefix + "".join(random.choice("0123456789") for _ in range(_NSN_LENGTH[region] - len(prefix)))
        number = phonenumbers.parse(f"+{code}{national}")
        if phonenumbers.is_valid_number(number):
            return (
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
            )


_NSN_LENGTH = {"FR": 9, "GB": 10, "CN": 11, "US": 10}


def unique_email() -> tuple[str, str]:
    """(as typed, normalised)."""
    local = f"Client.{uid()}"
    return f"{local}@Example.COM", f"{local.lower()}@example.com"


def phone(value: str, primary: bool = False) -> customer_pb2.ContactPoint:
    return customer_pb2.ContactPoint(kind=Kind.CONTACT_KIND_PHONE, value=value, primary=primary)


def email(value: str, primary: bool = False) -> customer_pb2.ContactPoint:
    return customer_pb2.ContactPoint(kind=Kind.CONTACT_KIND_EMAIL, value=value, primary=primary)


def md(principal: Principal | None = None) -> tuple:
    return metadata_for(principal or hq())


def customer(**fields) -> customer_pb2.Customer:
    fields.setdefault("given_name", "Hélène")
    fields.setdefault("family_name", "Laurent")
    fields.setdefault("locale", "fr-FR")
    return customer_pb2.Customer(**fields)


async def create(stub, principal: Principal | None = None, *, customer_id: str = "", request_id: str = "", **fields):
    request = api.CreateCustomerRequest(customer=customer(**fields), customer_id=customer_id, request_id=request_id)
    return await stub.CreateCustomer(request, metadata=md(principal or hq()), timeout=TIMEOUT)


async def get(stub, name: str, principal: Principal | None = None) -> customer_pb2.Customer:
    return await stub.GetCustomer(api.GetCustomerRequest(name=name), metadata=md(principal or hq()), timeout=TIMEOUT)


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


def _unpack(exc: grpc.aio.AioRpcError, cls):
    found = []
    for detail in rich_status(exc).details:
        if detail.Is(cls.DESCRIPTOR):
            msg = cls()
            detail.Unpack(msg)
            found.append(msg)
    return found


def error_info(exc: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    infos = _unpack(exc, error_details_pb2.ErrorInfo)
    assert len(infos) == 1, f"expected one ErrorInfo, got {infos}"
    return infos[0]


def bad_request(exc: grpc.aio.AioRpcError) -> error_details_pb2.BadRequest:
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, f"{exc.code()}: {exc.details()}"
    requests = _unpack(exc, error_details_pb2.BadRequest)
    assert len(requests) == 1, f"expected one BadRequest, got {requests}"
    return requests[0]


def bad_fields(exc: grpc.aio.AioRpcError) -> list[str]:
    return [v.field for v in bad_request(exc).field_violations]


async def invalid_fields(awaitable) -> list[str]:
    """The fields an INVALID_ARGUMENT names."""
    return bad_fields(await rpc_error(awaitable))


async def denied_reason(awaitable) -> str:
    exc = await rpc_error(awaitable)
    assert exc.code() == grpc.StatusCode.PERMISSION_DENIED, f"{exc.code()}: {exc.details()}"
    info = error_info(exc)
    assert info.domain == "atelier.dev"
    return info.reason


async def scalar(conn: psycopg.AsyncConnection, query: str, *params):
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    return row[0]


_TABLES = ("customers", "contact_points", "consent_changes", "notes", "idempotency_keys")


async def snapshot(conn: psycopg.AsyncConnection) -> dict[str, int]:
    """Rows per table and the newest outbox event, to show later that nothing changed."""
    counts = {table: await scalar(conn, f"SELECT count(*) FROM {table}") for table in _TABLES}
    counts["outbox_seq"] = await scalar(conn, "SELECT coalesce(max(seq), 0) FROM outbox")
    return counts


async def assert_unchanged(conn: psycopg.AsyncConnection, before: dict[str, int]) -> None:
    after = {table: await scalar(conn, f"SELECT count(*) FROM {table}") for table in _TABLES}
    assert after == {t: before[t] for t in _TABLES}
    new_events = await scalar(conn, "SELECT count(*) FROM outbox WHERE seq > %s", before["outbox_seq"])
    assert new_events == 0


# -- purchases and the timeline ------------------------------------------------

STORE = purchase_pb2.SalesChannel.SALES_CHANNEL_STORE
ONLINE = purchase_pb2.SalesChannel.SALES_CHANNEL_ONLINE
IKind = interaction_pb2.InteractionKind


def ts(when: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(when)
    return out


def ago(days: float = 0, **kw) -> datetime:
    return datetime.now(UTC) - timedelta(days=days, **kw)


def price(amount: str, currency: str = "EUR") -> money_pb2.Money:
    value = Decimal(amount)
    units = int(value)
    return money_pb2.Money(currency_code=currency, units=units, nanos=int((value - units) * 10**9))


def line(sku: str, amount: str, quantity: int = 1, category: str = "watches", currency: str = "EUR", line_id: str = ""):
    return purchase_pb2.PurchaseLine(
        line_id=line_id,
        sku=sku,
        product_name=f"Product {sku}",
        category=category,
        quantity=quantity,
        unit_price=price(amount, currency),
    )


def purchase(
    *lines, order_id: str = "", store: str = "", channel=STORE, when: datetime | None = None, associate: str = ""
) -> purchase_pb2.Purchase:
    return purchase_pb2.Purchase(
        channel=channel,
        order_id=order_id or f"o-{uid()}",
        store=store,
        assisting_associate=associate,
        lines=list(lines),
        order_time=ts(when or ago(hours=1)),
    )


async def record(stub, customer: str, p: purchase_pb2.Purchase, principal: Principal | None = None):
    return await stub.RecordPurchase(
        purchase_service_pb2.RecordPurchaseRequest(customer=customer, purchase=p),
        metadata=md(principal),
        timeout=TIMEOUT,
    )


async def record_return(stub, name: str, return_id: str, lines: dict[str, int], principal=None, when=None):
    request = purchase_service_pb2.RecordReturnRequest(
        name=name,
        return_id=return_id,
        lines=[purchase_pb2.ReturnLine(line_id=k, quantity=v) for k, v in lines.items()],
    )
    if when is not None:
        request.return_time.CopyFrom(ts(when))
    return await stub.RecordReturn(request, metadata=md(principal), timeout=TIMEOUT)


def amounts(ms) -> dict[str, Decimal]:
    return {m.currency_code: (Decimal(m.units) + Decimal(m.nanos) / 10**9).normalize() for m in ms}


async def interaction(stub, parent: str, principal=None, **fields):
    fields.setdefault("kind", IKind.INTERACTION_KIND_STORE_VISIT)
    when = fields.pop("when", None) or ago(minutes=5)
    msg = interaction_pb2.Interaction(occur_time=ts(when), **fields)
    return await stub.RecordInteraction(
        timeline_service_pb2.RecordInteractionRequest(parent=parent, interaction=msg),
        metadata=md(principal),
        timeout=TIMEOUT,
    )


async def events_of(conn: psycopg.AsyncConnection, event_type: str, subject: str) -> int:
    """How many events of `event_type` about `subject` the outbox holds (the envelope's
    subject is stored in its bytes: decode to check)."""
    cur = await conn.execute("SELECT envelope FROM outbox WHERE event_type = %s", (event_type,))
    count = 0
    for (raw,) in await cur.fetchall():
        if envelope_pb2.EventEnvelope.FromString(raw).subject == subject:
            count += 1
    return count


# -- imports, streams, merges and privacy --------------------------------------


def row(number: int, customer_id: str = "", **fields) -> api.ImportRow:
    contacts = fields.pop("contacts", [])
    fields.setdefault("locale", "fr-FR")
    msg = customer_pb2.Customer(**fields)
    for kind, value in contacts:
        msg.contact_points.add(kind=kind, value=value)
    return api.ImportRow(row_number=number, customer=msg, customer_id=customer_id)


async def import_batches(stub, import_id: str, batches: list[tuple[str, list]], principal=None):
    async def requests():
        for batch_id, rows in batches:
            yield api.ImportCustomersRequest(import_id=import_id, batch_id=batch_id, rows=rows)

    return await stub.ImportCustomers(requests(), metadata=md(principal or hq()), timeout=120)


async def list_store(stub, store: str) -> list[customer_pb2.Customer]:
    out, token = [], ""
    while True:
        page = await stub.ListCustomers(
            api.ListCustomersRequest(filter=f'home_store = "{store}"', page_size=200, page_token=token),
            metadata=md(hq()),
            timeout=TIMEOUT,
        )
        out.extend(page.customers)
        token = page.next_page_token
        if not token:
            return out


async def stream(stub, segment, principal=None, chunk_size: int = 0) -> list[customer_pb2.Customer]:
    out = []
    call = stub.StreamCustomers(
        api.StreamCustomersRequest(segment=segment, chunk_size=chunk_size), metadata=md(principal or hq()), timeout=300
    )
    async for chunk in call:
        out.extend(chunk.customers)
    return out


def connect(service) -> psycopg.AsyncConnection:
    return psycopg.AsyncConnection.connect(libpq_url(service.runtime.config.database_url), autocommit=True)


async def outbox_events(service, event_type: str) -> list[envelope_pb2.EventEnvelope]:
    async with await connect(service) as conn:
        cur = await conn.execute("SELECT envelope FROM outbox WHERE event_type = %s ORDER BY seq", (event_type,))
        return [envelope_pb2.EventEnvelope.FromString(r[0]) for r in await cur.fetchall()]


def store_name() -> str:
    return f"stores/d-{uid()}"


async def record_purchase(
    channel, customer: str, currency: str, units: int, category: str = "bags", when=None, *, store: str
):
    """A store sale in `store` (one the service knows)."""
    stub = purchase_service_pb2_grpc.PurchaseServiceStub(channel)
    purchase = purchase_pb2.Purchase(channel=purchase_pb2.SALES_CHANNEL_STORE, order_id=f"o-{uid()}", store=store)
    purchase.lines.add(
        sku=f"sku-{uid()}",
        product_name="Sac",
        category=category,
        quantity=1,
        unit_price=money_pb2.Money(currency_code=currency, units=units),
    )
    purchase.order_time.FromDatetime(when or datetime.now(UTC))
    return await stub.RecordPurchase(
        purchase_service_pb2.RecordPurchaseRequest(customer=customer, purchase=purchase),
        metadata=md(hq()),
        timeout=TIMEOUT,
    )


async def record_interaction(channel, customer: str, preview: str):
    stub = timeline_service_pb2_grpc.TimelineServiceStub(channel)
    interaction = interaction_pb2.Interaction(
        kind=interaction_pb2.INTERACTION_KIND_MESSAGE,
        channel=common_pb2.CHANNEL_WHATSAPP,
        direction=interaction_pb2.DIRECTION_INBOUND,
        preview=preview,
    )
    interaction.occur_time.FromDatetime(datetime.now(UTC))
    return await stub.RecordInteraction(
        timeline_service_pb2.RecordInteractionRequest(parent=customer, interaction=interaction),
        metadata=md(hq()),
        timeout=TIMEOUT,
    )
