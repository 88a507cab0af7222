"""The customer service's domain events, as envelopes for the outbox (uow.emit)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from google.protobuf import field_mask_pb2
from google.protobuf.message import Message

from atelier.customer.v1 import customer_pb2, interaction_pb2, purchase_pb2
from atelier.events.v1 import customer_events_pb2 as ev
from atelier.events.v1.envelope_pb2 import EventEnvelope
from servicekit import event_types
from servicekit.events import new_envelope

SOURCE = "customer"


def _envelope(event_type: str, subject: str, payload: Message, actor: str) -> EventEnvelope:
    return new_envelope(event_type=event_type, source=SOURCE, subject=subject, payload=payload, actor=actor)


def created(customer: customer_pb2.Customer, actor: str) -> EventEnvelope:
    payload = ev.CustomerCreated(customer=customer, referral_code=customer.referral_code)
    return _envelope(event_types.CUSTOMER_CREATED, customer.name, payload, actor)


def created_many(customers: Sequence[customer_pb2.Customer], actor: str) -> list[EventEnvelope]:
    """customer.created for a batch (bulk import): one envelope per customer, sharing the
    occurred_at and trace context computed once."""
    if not customers:
        return []
    first = created(customers[0], actor)
    out = [first]
    for customer in customers[1:]:
        envelope = EventEnvelope()
        envelope.CopyFrom(first)
        envelope.id = str(uuid.uuid4())
        envelope.subject = customer.name
        envelope.payload.Pack(ev.CustomerCreated(customer=customer, referral_code=customer.referral_code))
        out.append(envelope)
    return out


def updated(customer: customer_pb2.Customer, paths: Sequence[str], actor: str) -> EventEnvelope:
    payload = ev.CustomerUpdated(customer=customer, update_mask=field_mask_pb2.FieldMask(paths=paths))
    return _envelope(event_types.CUSTOMER_UPDATED, customer.name, payload, actor)


def consent_changed(name: str, consent: customer_pb2.Consent, actor: str) -> EventEnvelope:
    payload = ev.CustomerConsentChanged(customer=name, consent=consent)
    return _envelope(event_types.CUSTOMER_CONSENT_CHANGED, name, payload, actor)


def deleted(name: str, actor: str) -> EventEnvelope:
    return _envelope(event_types.CUSTOMER_DELETED, name, ev.CustomerDeleted(customer=name), actor)


def purchase_recorded(
    customer: str, purchase: purchase_pb2.Purchase, home_store: str, customer_created: bool, actor: str
) -> EventEnvelope:
    payload = ev.PurchaseRecorded(
        customer=customer, purchase=purchase, home_store=home_store, customer_created=customer_created
    )
    return _envelope(event_types.PURCHASE_RECORDED, customer, payload, actor)


def purchase_returned(customer: str, purchase: purchase_pb2.Purchase, return_id: str, actor: str) -> EventEnvelope:
    payload = ev.PurchaseReturned(customer=customer, purchase=purchase, return_id=return_id)
    return _envelope(event_types.PURCHASE_RETURNED, customer, payload, actor)


def interaction_recorded(customer: str, interaction: interaction_pb2.Interaction, actor: str) -> EventEnvelope:
    payload = ev.InteractionRecorded(customer=customer, interaction=interaction)
    return _envelope(event_types.INTERACTION_RECORDED, customer, payload, actor)


def merged(survivor: str, duplicate: str, merge: str, actor: str) -> EventEnvelope:
    payload = ev.CustomerMerged(survivor=survivor, duplicate=duplicate, merge=merge)
    return _envelope(event_types.CUSTOMER_MERGED, duplicate, payload, actor)


def unmerged(survivor: str, duplicate: str, merge: str, customer: customer_pb2.Customer, actor: str) -> EventEnvelope:
    payload = ev.CustomerUnmerged(survivor=survivor, duplicate=duplicate, merge=merge, customer=customer)
    return _envelope(event_types.CUSTOMER_UNMERGED, duplicate, payload, actor)


def erased(name: str, actor: str) -> EventEnvelope:
    """Carries the resource name only: an erasure event must not itself hold personal data."""
    return _envelope(event_types.CUSTOMER_ERASED, name, ev.CustomerErased(customer=name), actor)


def outbox_rows(envelopes: Sequence[EventEnvelope]) -> list[tuple[str, str, bytes]]:
    """(event id, type, serialised envelope): what storage/imports.copy_events writes."""
    return [(e.id, e.type, e.SerializeToString()) for e in envelopes]
