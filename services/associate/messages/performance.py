"""Figures and the attribution ledger as contract messages."""

from __future__ import annotations

from datetime import datetime

from google.protobuf import duration_pb2

from atelier.associate.v1 import performance_pb2
from atelier.customer.v1 import purchase_pb2
from servicekit.wire import etag, timestamp, to_money

from ..domain.names import prefixed
from ..storage.ledger import AttributionRow
from ..storage.performance import Figures
from .timestamps import stamped


def attribution(row: AttributionRow) -> performance_pb2.Attribution:
    msg = performance_pb2.Attribution(
        name=f"attributions/{row.id}",
        purchase=row.purchase,
        customer=f"customers/{row.customer_id}",
        order_id=row.order_id,
        channel=purchase_pb2.SalesChannel.ValueType(row.channel),
        store=prefixed("stores", row.store_id),
        amount=to_money(row.currency, row.amount),
        associate=prefixed("associates", row.associate_id),
        basis=performance_pb2.AttributionBasis.ValueType(row.basis),
        customer_created=row.customer_created,
        etag=etag(row.version),
    )
    for previous, associate, reason, actor, when in row.corrections:
        correction = msg.corrections.add(
            previous_associate=prefixed("associates", previous),
            associate=prefixed("associates", associate),
            reason=reason,
            actor=actor,
        )
        correction.correct_time.CopyFrom(timestamp(when))
    return stamped(msg, order_time=row.order_time)


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def performance(scope: str, figures: Figures, start: datetime, end: datetime) -> performance_pb2.Performance:
    result = performance_pb2.Performance(
        scope=scope,
        attributed_orders=sum(line.orders for line in figures.sales if line.total),
        book_size=figures.book_size,
        new_referral_customers=figures.referrals,
        tasks_due=figures.tasks_due,
        tasks_done_on_time=figures.tasks_on_time,
        tasks_done_on_time_percent=_percent(figures.tasks_on_time, figures.tasks_due),
        answered_messages=figures.answered,
        store_transactions=figures.store_transactions,
        store_transactions_known=figures.store_transactions_known,
        known_customer_share_percent=_percent(figures.store_transactions_known, figures.store_transactions),
    )
    stamped(result, start_time=start, end_time=end)
    for line in figures.sales:
        result.sales.add(
            channel=purchase_pb2.SalesChannel.ValueType(0 if line.total else line.channel),
            amount=to_money(line.currency, line.amount),
            orders=line.orders,
            average_order_value=to_money(line.currency, line.amount / line.orders),
        )
    if figures.median_seconds is not None:
        seconds = int(figures.median_seconds)
        result.median_reply_time.CopyFrom(
            duration_pb2.Duration(seconds=seconds, nanos=int((figures.median_seconds - seconds) * 1e9))
        )
    return result
