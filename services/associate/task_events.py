"""Events of the task and attribution capabilities, built for the outbox."""

from __future__ import annotations

from atelier.associate.v1 import performance_pb2, task_pb2
from atelier.events.v1 import associate_events_pb2 as ev
from servicekit.events import new_envelope

from .domain.attribution_rules import BASIS_WORDS
from .storage.task_mapping import STATUS_WORDS

SOURCE = "associate"
TASK_CREATED = "atelier.associate.task_created"
TASK_UPDATED = "atelier.associate.task_updated"
ATTRIBUTION_RECORDED = "atelier.associate.attribution_recorded"
ATTRIBUTION_CORRECTED = "atelier.associate.attribution_corrected"


def task_changed(task: task_pb2.Task, actor: str, *, created: bool):
    payload = ev.TaskChanged(
        task=task.name,
        rule=task.trigger.rule,
        customer=task.customer,
        associate=task.associate,
        store=task.store,
        status=STATUS_WORDS.get(task.status, ""),
        outcome_note=task.outcome_note,
        trigger_resource=task.trigger.resource,
    )
    payload.due_time.CopyFrom(task.due_time)
    if task.HasField("complete_time"):
        payload.complete_time.CopyFrom(task.complete_time)
    return new_envelope(
        event_type=TASK_CREATED if created else TASK_UPDATED, source=SOURCE, subject=task.name, payload=payload,
        actor=actor,
    )


def attribution_changed(
    entry: performance_pb2.Attribution, actor: str, *, previous: str = "", reason: str = ""
):
    payload = ev.AttributionChanged(
        attribution=entry.name,
        purchase=entry.purchase,
        customer=entry.customer,
        associate=entry.associate,
        previous_associate=previous,
        store=entry.store,
        basis=BASIS_WORDS.get(entry.basis, ""),
        amount=entry.amount,
        reason=reason,
    )
    return new_envelope(
        event_type=ATTRIBUTION_CORRECTED if reason else ATTRIBUTION_RECORDED, source=SOURCE, subject=entry.name,
        payload=payload, actor=actor,
    )
