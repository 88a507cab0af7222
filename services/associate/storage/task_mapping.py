"""Task and ledger rows to API messages; money between google.type.Money and Decimal."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_DOWN, Decimal

from google.protobuf import timestamp_pb2
from google.type import money_pb2

from atelier.associate.v1 import performance_pb2, task_pb2

from .ledger import AttributionRow
from .tasks import CANCELLED, DONE, OPEN, SNOOZED, TaskRow

STATUS_WORDS = {OPEN: "open", DONE: "done", SNOOZED: "snoozed", CANCELLED: "cancelled"}
_NANO = Decimal("0.000000001")


def timestamp(value: datetime | str) -> timestamp_pb2.Timestamp:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def etag(version: int) -> str:
    return f"v{version}"


def parse_etag(value: str) -> int | None:
    if value.startswith("v") and value[1:].isdigit():
        return int(value[1:])
    return None


def money(currency: str, amount: Decimal) -> money_pb2.Money:
    amount = Decimal(amount).quantize(_NANO, rounding=ROUND_DOWN)
    units = int(amount)  # truncates toward zero, so units and nanos share a sign
    nanos = int((amount - units) * 1_000_000_000)
    return money_pb2.Money(currency_code=currency, units=units, nanos=nanos)


def decimal(value: money_pb2.Money) -> Decimal:
    return Decimal(value.units) + Decimal(value.nanos) / Decimal(1_000_000_000)


def _overdue(row: TaskRow, now: datetime) -> bool:
    if row.status == DONE:
        return row.complete_time is not None and row.complete_time > row.due_time
    return row.status in (OPEN, SNOOZED) and row.due_time < now


def task(row: TaskRow, now: datetime | None = None) -> task_pb2.Task:
    now = now or datetime.now(timezone.utc)
    msg = task_pb2.Task(
        name=f"tasks/{row.id}",
        kind=row.kind,
        customer=f"customers/{row.customer_id}",
        associate=f"associates/{row.associate_id}" if row.associate_id else "",
        store=f"stores/{row.store_id}" if row.store_id else "",
        suggested_channel=row.channel,
        status=row.status,
        outcome_note=row.outcome_note,
        title=row.title,
        trigger=task_pb2.TaskTrigger(rule=row.rule, event_id=row.trigger_event, resource=row.trigger_resource),
        overdue=_overdue(row, now),
        etag=etag(row.version),
    )
    msg.due_time.CopyFrom(timestamp(row.due_time))
    msg.create_time.CopyFrom(timestamp(row.create_time))
    if row.snooze_until is not None and row.status == SNOOZED:
        msg.snooze_until.CopyFrom(timestamp(row.snooze_until))
    if row.complete_time is not None:
        msg.complete_time.CopyFrom(timestamp(row.complete_time))
    return msg


def _associate_name(associate_id: str) -> str:
    return f"associates/{associate_id}" if associate_id else ""


def attribution(row: AttributionRow) -> performance_pb2.Attribution:
    msg = performance_pb2.Attribution(
        name=f"attributions/{row.id}",
        purchase=row.purchase,
        customer=f"customers/{row.customer_id}",
        order_id=row.order_id,
        channel=row.channel,
        store=f"stores/{row.store_id}" if row.store_id else "",
        amount=money(row.currency, row.amount),
        associate=_associate_name(row.associate_id),
        basis=row.basis,
        customer_created=row.customer_created,
        etag=etag(row.version),
    )
    msg.order_time.CopyFrom(timestamp(row.order_time))
    for previous, associate, reason, actor, when in row.corrections:
        c = msg.corrections.add(
            previous_associate=_associate_name(previous), associate=_associate_name(associate), reason=reason,
            actor=actor,
        )
        c.correct_time.CopyFrom(timestamp(when))
    return msg
