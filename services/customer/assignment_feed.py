"""Learns who holds each customer from the associate service's assignment_changed events
(the `assignments` consumer), for associate scoping."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from atelier.events.v1 import associate_events_pb2 as ev, envelope_pb2
from servicekit.events import unpack
from servicekit.inbox import PoisonEvent

from .storage import assignments

ASSIGNMENT_CHANGED = "atelier.associate.assignment_changed"
EVENT_TYPES = (ASSIGNMENT_CHANGED,)


def _bare(name: str, collection: str) -> str:
    if not name:
        return ""
    if not name.startswith(collection + "/"):
        raise PoisonEvent(f"not a {collection} name: {name!r}")
    return name.split("/", 1)[1]


async def handle(conn: AsyncConnection, envelope: envelope_pb2.EventEnvelope) -> None:
    change = unpack(envelope, ev.AssignmentChanged)
    if change.role not in (assignments.PRIMARY, assignments.SECONDARY):
        raise PoisonEvent(f"assignment change without a role: {envelope.id}")
    await assignments.apply_change(
        conn,
        _bare(change.customer, "customers"),
        change.role,
        _bare(change.previous_associate, "associates"),
        _bare(change.associate, "associates"),
    )
