"""The customer service's domain events, built for the outbox."""

from __future__ import annotations

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
