"""The associate service's domain events, built for the outbox."""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from atelier.associate.v1 import associate_pb2
from atelier.events.v1 import associate_events_pb2 as ev
from servicekit.events import new_envelope

SOURCE = "associate"
ASSIGNMENT_CHANGED = "atelier.associate.assignment_changed"
ASSOCIATE_CREATED = "atelier.associate.associate_created"
ASSOCIATE_UPDATED = "atelier.associate.associate_updated"
ASSOCIATE_DEPARTED = "atelier.associate.associate_departed"
STORE_CREATED = "atelier.associate.store_created"
STORE_UPDATED = "atelier.associate.store_updated"

_ROLE = {1: "associate", 2: "manager", 3: "hq"}
_STATUS = {1: "active", 2: "on_leave", 3: "departed"}


def assignment_changed(change, actor: str, when: timestamp_pb2.Timestamp | None = None):
    """`change` is a storage.assignments.Change (ids without collection prefix)."""
    payload = ev.AssignmentChanged(
        customer=f"customers/{change.customer_id}",
        role=change.role,
        previous_associate=f"associates/{change.previous}" if change.previous else "",
        associate=f"associates/{change.associate}" if change.associate else "",
        store=change.store,
        reason=change.reason,
        note=change.note,
    )
    if when is None:
        payload.change_time.GetCurrentTime()
    else:
        payload.change_time.CopyFrom(when)
    return new_envelope(
        event_type=ASSIGNMENT_CHANGED, source=SOURCE, subject=payload.customer, payload=payload, actor=actor
    )


def associate_changed(associate: associate_pb2.Associate, actor: str, *, created: bool):
    payload = ev.AssociateChanged(
        associate=associate.name,
        store=associate.store,
        display_name=associate.display_name,
        role=_ROLE.get(associate.role, ""),
        status=_STATUS.get(associate.status, ""),
        referral_code=associate.referral_code,
        languages=associate.languages,
    )
    return new_envelope(
        event_type=ASSOCIATE_CREATED if created else ASSOCIATE_UPDATED,
        source=SOURCE, subject=associate.name, payload=payload, actor=actor,
    )


def associate_departed(associate: str, store: str, actor: str):
    payload = ev.AssociateDeparted(associate=associate, store=store)
    return new_envelope(event_type=ASSOCIATE_DEPARTED, source=SOURCE, subject=associate, payload=payload, actor=actor)


def store_changed(store, actor: str, *, created: bool):
    payload = ev.StoreChanged(
        store=store.name, code=store.code, display_name=store.display_name, time_zone=store.time_zone,
        region=store.region, etag=store.etag,
    )
    return new_envelope(
        event_type=STORE_CREATED if created else STORE_UPDATED, source=SOURCE, subject=store.name,
        payload=payload, actor=actor,
    )
