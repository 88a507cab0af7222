"""The customer service's domain events, built for the outbox."""

from __future__ import annotations

import uuid

from google.protobuf import field_mask_pb2

from atelier.customer.v1 import customer_pb2
from atelier.events.v1 import customer_events_pb2 as ev
from servicekit.events import new_envelope

SOURCE = "customer"
CREATED = "atelier.customer.created"
UPDATED = "atelier.customer.updated"
CONSENT_CHANGED = "atelier.customer.consent_changed"
DELETED = "atelier.customer.deleted"


def created(customer: customer_pb2.Customer, actor: str):
    payload = ev.CustomerCreated(customer=customer, referral_code=customer.referral_code)
    return new_envelope(event_type=CREATED, source=SOURCE, subject=customer.name, payload=payload, actor=actor)


def updated(customer: customer_pb2.Customer, paths: list[str], actor: str):
    payload = ev.CustomerUpdated(customer=customer, update_mask=field_mask_pb2.FieldMask(paths=paths))
    return new_envelope(event_type=UPDATED, source=SOURCE, subject=customer.name, payload=payload, actor=actor)


def consent_changed(name: str, consent: customer_pb2.Consent, actor: str):
    payload = ev.CustomerConsentChanged(customer=name, consent=consent)
    return new_envelope(event_type=CONSENT_CHANGED, source=SOURCE, subject=name, payload=payload, actor=actor)


def deleted(name: str, actor: str):
    return new_envelope(
        event_type=DELETED, source=SOURCE, subject=name, payload=ev.CustomerDeleted(customer=name), actor=actor
    )


PURCHASE_RECORDED = "atelier.customer.purchase_recorded"
PURCHASE_RETURNED = "atelier.customer.purchase_returned"
INTERACTION_RECORDED = "atelier.customer.interaction_recorded"


def purchase_recorded(customer: str, purchase, home_store: str, customer_created: bool, actor: str):
    payload = ev.PurchaseRecorded(
        customer=customer, purchase=purchase, home_store=home_store, customer_created=customer_created
    )
    return new_envelope(event_type=PURCHASE_RECORDED, source=SOURCE, subject=customer, payload=payload, actor=actor)


def purchase_returned(customer: str, purchase, return_id: str, actor: str):
    payload = ev.PurchaseReturned(customer=customer, purchase=purchase, return_id=return_id)
    return new_envelope(event_type=PURCHASE_RETURNED, source=SOURCE, subject=customer, payload=payload, actor=actor)


def interaction_recorded(customer: str, interaction, actor: str):
    payload = ev.InteractionRecorded(customer=customer, interaction=interaction)
    return new_envelope(
        event_type=INTERACTION_RECORDED, source=SOURCE, subject=customer, payload=payload, actor=actor
    )


MERGED = "atelier.customer.merged"
UNMERGED = "atelier.customer.unmerged"
ERASED = "atelier.customer.erased"


def merged(survivor: str, duplicate: str, merge: str, actor: str):
    payload = ev.CustomerMerged(survivor=survivor, duplicate=duplicate, merge=merge)
    return new_envelope(event_type=MERGED, source=SOURCE, subject=duplicate, payload=payload, actor=actor)


def unmerged(survivor: str, duplicate: str, merge: str, customer: customer_pb2.Customer, actor: str):
    payload = ev.CustomerUnmerged(survivor=survivor, duplicate=duplicate, merge=merge, customer=customer)
    return new_envelope(event_type=UNMERGED, source=SOURCE, subject=duplicate, payload=payload, actor=actor)


def erased(name: str, actor: str):
    """Carries the resource name only: an erasure event must not itself hold personal data."""
    return new_envelope(event_type=ERASED, source=SOURCE, subject=name, payload=ev.CustomerErased(customer=name), actor=actor)


def created_many(customers: list[customer_pb2.Customer], actor: str):
    """customer.created for a batch (bulk import): one envelope per customer, sharing the
    occurred_at and trace context computed once."""
    if not customers:
        return []
    first = created(customers[0], actor)
    out = [first]
    for customer in customers[1:]:
        envelope = type(first)()
        envelope.CopyFrom(first)
        envelope.id = str(uuid.uuid4())
        envelope.subject = customer.name
        envelope.payload.Pack(ev.CustomerCreated(customer=customer, referral_code=customer.referral_code))
        out.append(envelope)
    return out
