"""Helpers for bulk import, streaming, merge and privacy tests."""

from __future__ import annotations

import psycopg

from atelier.customer.v1 import customer_pb2, customer_service_pb2 as api
from atelier.events.v1 import envelope_pb2
from servicekit.db import libpq_url
from tests.customer.support import TIMEOUT, md, uid
from tests.conftest import hq

Kind = customer_pb2.ContactKind


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
            metadata=md(hq()), timeout=TIMEOUT,
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


def db(service) -> psycopg.AsyncConnection:
    return psycopg.AsyncConnection.connect(libpq_url(service.runtime.config.database_url), autocommit=True)


async def outbox_events(service, event_type: str) -> list[envelope_pb2.EventEnvelope]:
    async with await db(service) as conn:
        cur = await conn.execute("SELECT envelope FROM outbox WHERE event_type = %s ORDER BY seq", (event_type,))
        return [envelope_pb2.EventEnvelope.FromString(r[0]) for r in await cur.fetchall()]


def store_name() -> str:
    return f"stores/d-{uid()}"


async def record_purchase(channel, customer: str, currency: str, units: int, category: str = "bags", when=None):
    from datetime import datetime, timezone

    from google.type import money_pb2

    from atelier.customer.v1 import purchase_pb2, purchase_service_pb2, purchase_service_pb2_grpc

    stub = purchase_service_pb2_grpc.PurchaseServiceStub(channel)
    purchase = purchase_pb2.Purchase(channel=purchase_pb2.SALES_CHANNEL_STORE, order_id=f"o-{uid()}", store="stores/paris")
    purchase.lines.add(sku=f"sku-{uid()}", product_name="Sac", category=category, quantity=1,
                       unit_price=money_pb2.Money(currency_code=currency, units=units))
    purchase.order_time.FromDatetime(when or datetime.now(timezone.utc))
    return await stub.RecordPurchase(
        purchase_service_pb2.RecordPurchaseRequest(customer=customer, purchase=purchase), metadata=md(hq()), timeout=TIMEOUT
    )


async def record_interaction(channel, customer: str, preview: str):
    from datetime import datetime, timezone

    from atelier.common.v1 import common_pb2
    from atelier.customer.v1 import interaction_pb2, timeline_service_pb2, timeline_service_pb2_grpc

    stub = timeline_service_pb2_grpc.TimelineServiceStub(channel)
    interaction = interaction_pb2.Interaction(
        kind=interaction_pb2.INTERACTION_KIND_MESSAGE, channel=common_pb2.CHANNEL_WHATSAPP,
        direction=interaction_pb2.DIRECTION_INBOUND, preview=preview,
    )
    interaction.occur_time.FromDatetime(datetime.now(timezone.utc))
    return await stub.RecordInteraction(
        timeline_service_pb2.RecordInteractionRequest(parent=customer, interaction=interaction),
        metadata=md(hq()), timeout=TIMEOUT,
    )
