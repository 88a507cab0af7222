"""The associate service's domain events, built for the outbox (uow.emit)."""

from __future__ import annotations

from enum import IntEnum

from google.protobuf import timestamp_pb2
from google.protobuf.message import Message

from atelier.associate.v1 import associate_pb2, performance_pb2, store_pb2, task_pb2
from atelier.events.v1 import associate_events_pb2 as ev
from atelier.events.v1 import envelope_pb2
from servicekit import event_types
from servicekit.events import new_envelope

from ..domain.assignment import AssignmentChange
from ..domain.attribution import Basis
from ..domain.names import prefixed
from ..domain.staff import StaffRole, Status
from ..domain.tasks import TaskStatus

SOURCE = "associate"
Envelope = envelope_pb2.EventEnvelope


def _word(enum: type[IntEnum], number: int) -> str:
    """An enum value as the lower-case word events carry ('' for one it does not know)."""
    try:
        return enum(number).name.lower()
    except ValueError:
        return ""


def _envelope(event_type: str, subject: str, payload: Message, actor: str) -> Envelope:
    return new_envelope(event_type=event_type, source=SOURCE, subject=subject, payload=payload, actor=actor)


def now() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts


def assignment_changed(change: AssignmentChange, actor: str, when: timestamp_pb2.Timestamp | None = None) -> Envelope:
    payload = ev.AssignmentChanged(
        customer=f"customers/{change.customer_id}",
        role=ev.AssignmentRole.ValueType(change.role),
        previous_associate=prefixed("associates", change.previous),
        associate=prefixed("associates", change.associate),
        store=change.store,
        reason=ev.AssignmentReason.ValueType(change.reason),
        note=change.note,
    )
    payload.change_time.CopyFrom(when or now())
    return _envelope(event_types.ASSIGNMENT_CHANGED, payload.customer, payload, actor)


def associate_changed(associate: associate_pb2.Associate, actor: str, *, created: bool) -> Envelope:
    payload = ev.AssociateChanged(
        associate=associate.name,
        store=associate.store,
        display_name=associate.display_name,
        role=_word(StaffRole, associate.role),
        status=_word(Status, associate.status),
        referral_code=associate.referral_code,
        languages=associate.languages,
    )
    return _envelope(
        event_types.ASSOCIATE_CREATED if created else event_types.ASSOCIATE_UPDATED, associate.name, payload, actor
    )


def associate_created(associate: associate_pb2.Associate, actor: str) -> Envelope:
    return associate_changed(associate, actor, created=True)


def associate_departed(associate: str, store: str, actor: str) -> Envelope:
    payload = ev.AssociateDeparted(associate=associate, store=store)
    return _envelope(event_types.ASSOCIATE_DEPARTED, associate, payload, actor)


def store_changed(store: store_pb2.Store, actor: str, *, created: bool) -> Envelope:
    payload = ev.StoreChanged(
        store=store.name,
        code=store.code,
        display_name=store.display_name,
        time_zone=store.time_zone,
        region=store.region,
        etag=store.etag,
    )
    return _envelope(event_types.STORE_CREATED if created else event_types.STORE_UPDATED, store.name, payload, actor)


def store_created(store: store_pb2.Store, actor: str) -> Envelope:
    return store_changed(store, actor, created=True)


def task_created(task: task_pb2.Task, actor: str) -> Envelope:
    return task_changed(task, actor, created=True)


def task_changed(task: task_pb2.Task, actor: str, *, created: bool) -> Envelope:
    payload = ev.TaskChanged(
        task=task.name,
        rule=task.trigger.rule,
        customer=task.customer,
        associate=task.associate,
        store=task.store,
        status=_word(TaskStatus, task.status),
        outcome_note=task.outcome_note,
        trigger_resource=task.trigger.resource,
    )
    payload.due_time.CopyFrom(task.due_time)
    if task.HasField("complete_time"):
        payload.complete_time.CopyFrom(task.complete_time)
    return _envelope(event_types.TASK_CREATED if created else event_types.TASK_UPDATED, task.name, payload, actor)


def attribution_changed(
    entry: performance_pb2.Attribution, actor: str, *, previous: str = "", reason: str = ""
) -> Envelope:
    """Recorded, or corrected (with the correction's reason and the associate credited before)."""
    payload = ev.AttributionChanged(
        attribution=entry.name,
        purchase=entry.purchase,
        customer=entry.customer,
        associate=entry.associate,
        previous_associate=previous,
        store=entry.store,
        basis=_word(Basis, entry.basis),
        amount=entry.amount,
        reason=reason,
    )
    return _envelope(
        event_types.ATTRIBUTION_CORRECTED if reason else event_types.ATTRIBUTION_RECORDED, entry.name, payload, actor
    )
