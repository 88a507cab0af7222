"""The `attribution` consumer: purchases credited in the ledger (and their returns), the
interaction log the attribution window and reply times are computed from, and the
erasure of a customer (the events it published about her leave the stream)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from atelier.customer.v1 import purchase_pb2
from atelier.events.v1 import customer_events_pb2 as cev
from atelier.events.v1 import envelope_pb2
from servicekit import event_types, wire
from servicekit.auth import SYSTEM
from servicekit.uow import UnitOfWork

from ..domain.attribution import Sale
from ..domain.names import bare
from ..usecases import attribution, privacy
from .payloads import interaction, parse_customer, payload, time

EVENT_TYPES = (
    event_types.PURCHASE_RECORDED,
    event_types.PURCHASE_RETURNED,
    event_types.INTERACTION_RECORDED,
    event_types.CUSTOMER_MERGED,
    event_types.CUSTOMER_ERASED,
)


def purchase_amount(purchase: purchase_pb2.Purchase) -> tuple[str, Decimal]:
    """(currency, amount): the purchase's total when the event carries it, else its lines
    (less what was returned)."""
    if purchase.total.currency_code:
        return purchase.total.currency_code, wire.to_decimal(purchase.total)
    currency = next((line.unit_price.currency_code for line in purchase.lines), "")
    amount = sum(
        (wire.to_decimal(line.unit_price) * (line.quantity - line.returned_quantity) for line in purchase.lines),
        Decimal(0),
    )
    return currency, amount


async def handle(uow: UnitOfWork, envelope: envelope_pb2.EventEnvelope, *, window: timedelta) -> None:
    """`window`: how long after her last interaction her primary associate is credited
    (app.py binds it)."""
    kind = envelope.type
    if kind == event_types.PURCHASE_RECORDED:
        recorded = payload(envelope, cev.PurchaseRecorded)
        purchase = recorded.purchase
        currency, amount = purchase_amount(purchase)
        sale = Sale(
            purchase=purchase.name,
            customer_id=parse_customer(recorded.customer),
            order_id=purchase.order_id,
            channel=purchase.channel,
            store_id=bare(purchase.store or recorded.home_store, "stores"),
            assisting_id=bare(purchase.assisting_associate, "associates"),
            order_time=time(purchase.order_time),
            currency=currency,
            amount=amount,
            customer_created=recorded.customer_created,
        )
        await attribution.purchase_recorded(uow, sale, window, envelope.actor or SYSTEM.subject)
    elif kind == event_types.PURCHASE_RETURNED:
        returned = payload(envelope, cev.PurchaseReturned).purchase
        await attribution.purchase_returned(uow, returned.name, purchase_amount(returned)[1])
    elif kind == event_types.INTERACTION_RECORDED:
        await attribution.interaction_seen(uow, interaction(payload(envelope, cev.InteractionRecorded)))
    elif kind == event_types.CUSTOMER_MERGED:
        merged = payload(envelope, cev.CustomerMerged)
        await attribution.customers_merged(uow, parse_customer(merged.survivor), parse_customer(merged.duplicate))
    elif kind == event_types.CUSTOMER_ERASED:
        await privacy.attributions_erased(uow, parse_customer(payload(envelope, cev.CustomerErased).customer))
