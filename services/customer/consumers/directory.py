"""The `directory` consumer: which stores exist and who works where, in what role and
status, with which referral code, from the associate service's store and associate events
(for the caller gate and the checks of home stores and referral codes)."""

from __future__ import annotations

from datetime import UTC
from typing import cast

from atelier.events.v1 import associate_events_pb2 as ev
from atelier.events.v1.envelope_pb2 import EventEnvelope
from servicekit import event_types
from servicekit.events import unpack
from servicekit.inbox import PoisonEvent
from servicekit.uow import UnitOfWork

from ..domain.directory import StaffRecord, referral_key
from ..usecases import directory

EVENT_TYPES = (
    event_types.ASSOCIATE_CREATED,
    event_types.ASSOCIATE_UPDATED,
    event_types.ASSOCIATE_DEPARTED,
    event_types.STORE_CREATED,
    event_types.STORE_UPDATED,
)
_STAFF_CHANGES = (event_types.ASSOCIATE_CREATED, event_types.ASSOCIATE_UPDATED)
_STORE_CHANGES = (event_types.STORE_CREATED, event_types.STORE_UPDATED)


def _id(name: str, collection: str, envelope: EventEnvelope) -> str:
    prefix = collection + "/"
    if not name.startswith(prefix) or len(name) == len(prefix):
        raise PoisonEvent(f"{envelope.type} {envelope.id}: not a {collection} name: {name!r}")
    return name[len(prefix) :]


async def handle(uow: UnitOfWork, envelope: EventEnvelope) -> None:
    if not envelope.HasField("occurred_at"):
        raise PoisonEvent(f"{envelope.type} {envelope.id} does not say when it happened")
    when = envelope.occurred_at.ToDatetime(tzinfo=UTC)
    if envelope.type in _STORE_CHANGES:
        # servicekit.events.unpack returns the message_type it is given, typed as Message.
        changed_store = cast(ev.StoreChanged, unpack(envelope, ev.StoreChanged))
        _id(changed_store.store, "stores", envelope)
        await directory.apply_store(uow, changed_store.store, when)
    elif envelope.type in _STAFF_CHANGES:
        changed = cast(ev.AssociateChanged, unpack(envelope, ev.AssociateChanged))
        record = StaffRecord(
            associate_id=_id(changed.associate, "associates", envelope),
            store=changed.store,
            role=changed.role,
            status=changed.status,
            referral_code=referral_key(changed.referral_code),
            change_time=when,
        )
        await directory.apply_staff(uow, record)
    elif envelope.type == event_types.ASSOCIATE_DEPARTED:
        departed = cast(ev.AssociateDeparted, unpack(envelope, ev.AssociateDeparted))
        await directory.apply_departure(uow, _id(departed.associate, "associates", envelope), departed.store, when)
    else:
        raise PoisonEvent(f"the directory consumer does not handle {envelope.type}")
