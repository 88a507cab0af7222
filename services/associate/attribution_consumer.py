"""Attribution of purchases, and the interaction log performance is computed from.

Runs in the inbox transaction of each event; the ledger's unique purchase keeps a replayed
order (new event id, same purchase) from being credited twice.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection

from atelier.events.v1 import customer_events_pb2 as cev, envelope_pb2
from servicekit import names, outbox, wire
from servicekit.events import unpack

from . import task_events
from .domain import attribution_rules
from .domain.task_access import bare
from .storage import interactions, ledger, task_mapping
from .task_consumer import (
    CUSTOMER_MERGED,
    INTERACTION_RECORDED,
    PURCHASE_RECORDED,
    parse_customer,
)

PURCHASE_RETURNED = "atelier.customer.purchase_returned"
EVENT_TYPES = (PURCHASE_RECORDED, PURCHASE_RETURNED, INTERACTION_RECORDED, CUSTOMER_MERGED)


def purchase_amount(purchase) -> tuple[str, Decimal]:
    """(currency, amount): the purchase's total when the event carries it, else its lines."""
    if purchase.total.currency_code:
        return purchase.total.currency_code, wire.to_decimal(purchase.total)
    currency = next((line.unit_price.currency_code for line in purchase.lines), "")
    amount = sum(
        (wire.to_decimal(line.unit_price) * (line.quantity - line.returned_quantity) for line in purchase.lines),
        Decimal(0),
    )
    return currency, amount


class Attribution:
    def __init__(self, window: timedelta | None = None):
        self.window = window if window is not None else attribution_rules.window_from_env()

    async def handle(self, conn: AsyncConnection, envelope: envelope_pb2.EventEnvelope) -> None:
        if envelope.type == PURCHASE_RECORDED:
            await self._purchase(conn, envelope)
        elif envelope.type == PURCHASE_RETURNED:
            event = unpack(envelope, cev.PurchaseReturned)
            await ledger.set_amount(conn, event.purchase.name, purchase_amount(event.purchase)[1])
        elif envelope.type == INTERACTION_RECORDED:
            event = unpack(envelope, cev.InteractionRecorded)
            it = event.interaction
            await interactions.record(
                conn, name=it.name, customer_id=parse_customer(event.customer), kind=it.kind,
                direction=it.direction, channel=it.channel, store=it.store, associate=it.associate,
                occur_time=it.occur_time.ToDatetime(tzinfo=timezone.utc),
            )
        elif envelope.type == CUSTOMER_MERGED:
            event = unpack(envelope, cev.CustomerMerged)
            survivor, duplicate = parse_customer(event.survivor), parse_customer(event.duplicate)
            await ledger.repoint_customer(conn, duplicate, survivor)
            await interactions.repoint(conn, duplicate, survivor)

    async def _purchase(self, conn: AsyncConnection, envelope) -> None:
        event = unpack(envelope, cev.PurchaseRecorded)
        cid = parse_customer(event.customer)
        purchase = event.purchase
        order_time = purchase.order_time.ToDatetime(tzinfo=timezone.utc)
        primary = await ledger.primary_associate(conn, cid)
        last = await interactions.last_before(conn, cid, order_time)
        associate, basis = attribution_rules.attribute(
            assisting=bare(purchase.assisting_associate, "associates"),
            primary=primary,
            last_interaction=last,
            order_time=order_time,
            window=self.window,
        )
        currency, amount = purchase_amount(purchase)
        row = await ledger.insert(
            conn,
            id=names.new_id(),
            purchase=purchase.name,
            cid=cid,
            order_id=purchase.order_id,
            channel=purchase.channel,
            store=bare(purchase.store or event.home_store, "stores"),
            currency=currency,
            amount=amount,
            order_time=order_time,
            associate=associate,
            basis=basis,
            customer_created=event.customer_created,
        )
        if row is not None:
            await outbox.record(
                conn, task_events.attribution_changed(task_mapping.attribution(row), envelope.actor or "services/atelier")
            )
