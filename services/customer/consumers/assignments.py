"""The `assignments` consumer: who holds each customer, from the associate service's
assignment_changed events (for associate scoping)."""

from __future__ import annotations

from typing import cast

from atelier.events.v1 import associate_events_pb2 as ev
from atelier.events.v1.envelope_pb2 import EventEnvelope
from servicekit import event_types
from servicekit.events import unpack
from servicekit.inbox import PoisonEvent
from servicekit.uow import UnitOfWork

from ..domain.assignments import Change, Role
from ..usecases import assignments

EVENT_TYPES = (event_types.ASSIGNMENT_CHANGED,)


def _bare(name: str, collection: str) -> str:
    if not name:
        return ""
    if not name.startswith(collection + "/"):
        raise PoisonEvent(f"not a {collection} name: {name!r}")
    return name.split("/", 1)[1]


async def handle(uow: UnitOfWork, envelope: EventEnvelope) -> None:
    # servicekit.events.unpack returns the message_type it is given, typed as Message.
    change = cast(ev.AssignmentChanged, unpack(envelope, ev.AssignmentChanged))
    role = int(change.role)
    if role not in (Role.PRIMARY, Role.SECONDARY):
        raise PoisonEvent(f"assignment change without a role: {envelope.id}")
    await assignments.apply_change(
        uow,
        Change(
            customer_id=_bare(change.customer, "customers"),
            role=Role(role),
            previous=_bare(change.previous_associate, "associates"),
            associate=_bare(change.associate, "associates"),
        ),
    )
