"""Keeps the client book's read model current from customer events (the `book` consumer)."""

from __future__ import annotations

from datetime import timezone

from sqlalchemy.ext.asyncio import AsyncConnection

from atelier.customer.v1 import interaction_pb2
from atelier.events.v1 import customer_events_pb2 as cev, envelope_pb2
from servicekit import wire
from servicekit.events import unpack

from .rules import CREATED, DELETED, ERASED, INTERACTION, MERGED, customer_id_of
from .storage import book

UPDATED = "atelier.customer.updated"
PURCHASE_RECORDED = "atelier.customer.purchase_recorded"
EVENT_TYPES = (CREATED, UPDATED, PURCHASE_RECORDED, INTERACTION, MERGED, ERASED, DELETED)

Kind = interaction_pb2.InteractionKind
# Touchpoints where the associate and the client were actually in contact.
_CONTACTS = frozenset({
    Kind.INTERACTION_KIND_MESSAGE, Kind.INTERACTION_KIND_STORE_VISIT, Kind.INTERACTION_KIND_QR_SCAN,
    Kind.INTERACTION_KIND_CALL, Kind.INTERACTION_KIND_APPOINTMENT,
})


async def handle(conn: AsyncConnection, envelope: envelope_pb2.EventEnvelope) -> None:
    kind = envelope.type
    if kind == CREATED:
        payload = unpack(envelope, cev.CustomerCreated)
        await book.upsert_profile(conn, customer_id_of(payload.customer.name), payload.customer)
    elif kind == UPDATED:
        payload = unpack(envelope, cev.CustomerUpdated)
        await book.upsert_profile(conn, customer_id_of(payload.customer.name), payload.customer)
    elif kind == PURCHASE_RECORDED:
        payload = unpack(envelope, cev.PurchaseRecorded)
        purchase = payload.purchase
        when = purchase.order_time.ToDatetime(tzinfo=timezone.utc)
        await book.add_purchase(
            conn, customer_id_of(payload.customer), purchase.name or f"{payload.customer}/orders/{purchase.order_id}",
            wire.to_decimal(purchase.total), purchase.total.currency_code, when,
        )
    elif kind == INTERACTION:
        payload = unpack(envelope, cev.InteractionRecorded)
        if payload.interaction.kind in _CONTACTS and payload.interaction.HasField("occur_time"):
            await book.touch(conn, customer_id_of(payload.customer), payload.interaction.occur_time.ToDatetime(tzinfo=timezone.utc))
    elif kind == MERGED:
        payload = unpack(envelope, cev.CustomerMerged)
        await book.merge(conn, customer_id_of(payload.survivor), customer_id_of(payload.duplicate))
    elif kind == ERASED:
        await book.forget(conn, customer_id_of(unpack(envelope, cev.CustomerErased).customer))
    elif kind == DELETED:
        await book.forget(conn, customer_id_of(unpack(envelope, cev.CustomerDeleted).customer))
