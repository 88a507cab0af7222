"""Purchase, interaction and purchase-figure rows to contract messages."""

from __future__ import annotations

from decimal import Decimal

from atelier.common.v1 import common_pb2
from atelier.customer.v1 import interaction_pb2, purchase_pb2
from servicekit import wire

from ..domain import computed_tags
from ..domain.computed_tags import CurrencyStats
from ..storage.interactions import InteractionRow
from ..storage.purchases import PurchaseRow


def purchase(row: PurchaseRow) -> purchase_pb2.Purchase:
    currency = row.currency.strip()
    msg = purchase_pb2.Purchase(
        name=f"customers/{row.customer_id}/purchases/{row.id}",
        channel=purchase_pb2.SalesChannel.ValueType(row.channel),
        order_id=row.order_id,
        store=row.store,
        assisting_associate=row.assisting_associate,
        total=wire.to_money(currency, Decimal(row.gross) - Decimal(row.returned)),
        order_time=wire.timestamp(row.order_time),
        create_time=wire.timestamp(row.create_time),
    )
    for line_id, sku, name, category, quantity, price, returned in row.lines or []:
        msg.lines.add(
            line_id=line_id,
            sku=sku,
            product_name=name,
            category=category,
            quantity=quantity,
            unit_price=wire.to_money(currency, price),
            returned_quantity=returned,
        )
    for return_id, amount, when, lines in row.returns:
        item = msg.returns.add(
            return_id=return_id, return_time=wire.timestamp(when), amount=wire.to_money(currency, amount)
        )
        for line_id, quantity in lines or []:
            item.lines.add(line_id=line_id, quantity=quantity)
    return msg


def interaction(row: InteractionRow) -> interaction_pb2.Interaction:
    return interaction_pb2.Interaction(
        name=f"customers/{row.customer_id}/interactions/{row.id}",
        kind=interaction_pb2.InteractionKind.ValueType(row.kind),
        channel=common_pb2.Channel.ValueType(row.channel),
        direction=interaction_pb2.Direction.ValueType(row.direction),
        preview=row.preview,
        store=row.store,
        associate=row.associate,
        referral_code=row.referral_code,
        reference=row.reference,
        external_id=row.external_id or "",
        occur_time=wire.timestamp(row.occur_time),
        create_time=wire.timestamp(row.create_time),
    )


def purchase_stats(stats: list[CurrencyStats]) -> purchase_pb2.PurchaseStats:
    msg = purchase_pb2.PurchaseStats(
        order_count=sum(s.order_count for s in stats),
        favourite_categories=computed_tags.favourite_categories(stats),
    )
    firsts = [s.first_purchase for s in stats if s.first_purchase]
    lasts = [s.last_purchase for s in stats if s.last_purchase]
    if firsts:
        msg.first_purchase_time.CopyFrom(wire.timestamp(min(firsts)))
        msg.last_purchase_time.CopyFrom(wire.timestamp(max(lasts)))
    for s in sorted(stats, key=lambda s: s.currency):
        msg.lifetime_value.append(wire.to_money(s.currency, s.lifetime_value))
        if s.order_count:
            msg.average_order_value.append(wire.to_money(s.currency, s.lifetime_value / s.order_count))
    return msg
