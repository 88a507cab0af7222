"""Helpers for the purchase and timeline tests. The service and its database are shared
by the session, so every test uses its own stores, order ids and contact values."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import psycopg
from google.protobuf import timestamp_pb2
from google.type import money_pb2

from atelier.customer.v1 import interaction_pb2, purchase_pb2, purchase_service_pb2 as papi
from atelier.customer.v1 import timeline_service_pb2 as tapi
from servicekit.auth import Principal
from tests.conftest import hq, metadata_for
from tests.customer.support import TIMEOUT, create, new_store, uid  # noqa: F401 - re-exported

STORE = purchase_pb2.SalesChannel.SALES_CHANNEL_STORE
ONLINE = purchase_pb2.SalesChannel.SALES_CHANNEL_ONLINE
IKind = interaction_pb2.InteractionKind


def md(principal: Principal | None = None) -> tuple:
    return metadata_for(principal or hq())


def ts(when: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(when)
    return out


def ago(days: float = 0, **kw) -> datetime:
    return datetime.now(timezone.utc) - timedelta(days=days, **kw)


def price(amount: str, currency: str = "EUR") -> money_pb2.Money:
    value = Decimal(amount)
    units = int(value)
    return money_pb2.Money(currency_code=currency, units=units, nanos=int((value - units) * 10**9))


def line(sku: str, amount: str, quantity: int = 1, category: str = "watches", currency: str = "EUR", line_id: str = ""):
    return purchase_pb2.PurchaseLine(
        line_id=line_id, sku=sku, product_name=f"Product {sku}", category=category, quantity=quantity,
        unit_price=price(amount, currency),
    )


def purchase(*lines, order_id: str = "", store: str = "", channel=STORE, when: datetime | None = None,
             associate: str = "") -> purchase_pb2.Purchase:
    return purchase_pb2.Purchase(
        channel=channel, order_id=order_id or f"o-{uid()}", store=store, assisting_associate=associate,
        lines=list(lines), order_time=ts(when or ago(hours=1)),
    )


async def record(stub, customer: str, p: purchase_pb2.Purchase, principal: Principal | None = None):
    return await stub.RecordPurchase(
        papi.RecordPurchaseRequest(customer=customer, purchase=p), metadata=md(principal), timeout=TIMEOUT
    )


async def record_return(stub, name: str, return_id: str, lines: dict[str, int], principal=None, when=None):
    request = papi.RecordReturnRequest(
        name=name, return_id=return_id,
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
        tapi.RecordInteractionRequest(parent=parent, interaction=msg), metadata=md(principal), timeout=TIMEOUT
    )


async def events_of(conn: psycopg.AsyncConnection, event_type: str, subject: str) -> int:
    """How many events of `event_type` about `subject` the outbox holds (the envelope's
    subject is stored in its bytes: decode to check)."""
    from atelier.events.v1 import envelope_pb2

    cur = await conn.execute("SELECT envelope FROM outbox WHERE event_type = %s", (event_type,))
    count = 0
    for (raw,) in await cur.fetchall():
        if envelope_pb2.EventEnvelope.FromString(raw).subject == subject:
            count += 1
    return count


async def scalar(conn: psycopg.AsyncConnection, query: str, *params):
    cur = await conn.execute(query, params)
    return (await cur.fetchone())[0]
