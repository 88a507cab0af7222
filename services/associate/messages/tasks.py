"""Tasks as contract messages."""

from __future__ import annotations

from datetime import UTC, datetime

from atelier.associate.v1 import task_pb2
from atelier.common.v1 import common_pb2
from servicekit.wire import etag

from ..domain.names import prefixed
from ..domain.tasks import TaskStatus
from ..storage.tasks import TaskRow
from .timestamps import stamped


def _overdue(row: TaskRow, now: datetime) -> bool:
    if row.status == TaskStatus.DONE:
        return row.complete_time is not None and row.complete_time > row.due_time
    return row.status in (TaskStatus.OPEN, TaskStatus.SNOOZED) and row.due_time < now


def task(row: TaskRow, now: datetime | None = None) -> task_pb2.Task:
    now = now or datetime.now(UTC)
    msg = task_pb2.Task(
        name=f"tasks/{row.id}",
        kind=task_pb2.TaskKind.ValueType(row.kind),
        customer=f"customers/{row.customer_id}",
        associate=prefixed("associates", row.associate_id),
        store=prefixed("stores", row.store_id),
        suggested_channel=common_pb2.Channel.ValueType(row.channel),
        status=task_pb2.TaskStatus.ValueType(row.status),
        outcome_note=row.outcome_note,
        title=row.title,
        trigger=task_pb2.TaskTrigger(rule=row.rule, event_id=row.trigger_event, resource=row.trigger_resource),
        overdue=_overdue(row, now),
        etag=etag(row.version),
    )
    snoozed = row.status == TaskStatus.SNOOZED
    return stamped(
        msg,
        due_time=row.due_time,
        create_time=row.create_time,
        complete_time=row.complete_time,
        snooze_until=row.snooze_until if snoozed else None,
    )
