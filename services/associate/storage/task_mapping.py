"""Task and ledger rows to API messages."""

from __future__ import annotations

from datetime import datetime, timezone


from atelier.associate.v1 import performance_pb2, task_pb2
from servicekit.wire import etag, timestamp, to_money

from .ledger import AttributionRow
from .tasks import CANCELLED, DONE, OPEN, SNOOZED, TaskRow

STATUS_WORDS = {OPEN: "open", DONE: "done", SNOOZED: "snoozed", CANCELLED: "cancelled"}


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
        amount=to_money(row.currency, row.amount),
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
