"""Every domain event type, in one place, with the payload message it carries.

Producers and consumers import these names instead of writing `"atelier.customer.created"`
again; the contract test checks that each one is documented as a subject in the event
protos (protos/atelier/events/v1) and that each payload is one of their messages. The
envelope's `type` is always `atelier.<area>.<event>`; the NATS subject may carry another
prefix (servicekit.events.EventBus).
"""

from __future__ import annotations

from google.protobuf.message import Message

from atelier.events.v1 import associate_events_pb2 as associate_ev
from atelier.events.v1 import customer_events_pb2 as customer_ev

# customer service
CUSTOMER_CREATED = "atelier.customer.created"
CUSTOMER_UPDATED = "atelier.customer.updated"
CUSTOMER_CONSENT_CHANGED = "atelier.customer.consent_changed"
CUSTOMER_DELETED = "atelier.customer.deleted"
CUSTOMER_MERGED = "atelier.customer.merged"
CUSTOMER_UNMERGED = "atelier.customer.unmerged"
CUSTOMER_ERASED = "atelier.customer.erased"
PURCHASE_RECORDED = "atelier.customer.purchase_recorded"
PURCHASE_RETURNED = "atelier.customer.purchase_returned"
INTERACTION_RECORDED = "atelier.customer.interaction_recorded"

# associate service
ASSIGNMENT_CHANGED = "atelier.associate.assignment_changed"
ASSOCIATE_CREATED = "atelier.associate.associate_created"
ASSOCIATE_UPDATED = "atelier.associate.associate_updated"
ASSOCIATE_DEPARTED = "atelier.associate.associate_departed"
STORE_CREATED = "atelier.associate.store_created"
STORE_UPDATED = "atelier.associate.store_updated"
TASK_CREATED = "atelier.associate.task_created"
TASK_UPDATED = "atelier.associate.task_updated"
ATTRIBUTION_RECORDED = "atelier.associate.attribution_recorded"
ATTRIBUTION_CORRECTED = "atelier.associate.attribution_corrected"

# appointments service (its contract arrives with the service; consumed by name today)
APPOINTMENT_BOOKED = "atelier.appointments.booked"

# Types already consumed by name whose event proto (documented subject and payload) has
# not landed yet. The contract test requires every other constant to be documented in
# protos/atelier/events/v1 with its payload in PAYLOADS, and fails once one of these is
# documented, so it leaves this set then.
AWAITING_CONTRACT: frozenset[str] = frozenset({APPOINTMENT_BOOKED})

PAYLOADS: dict[str, type[Message]] = {
    CUSTOMER_CREATED: customer_ev.CustomerCreated,
    CUSTOMER_UPDATED: customer_ev.CustomerUpdated,
    CUSTOMER_CONSENT_CHANGED: customer_ev.CustomerConsentChanged,
    CUSTOMER_DELETED: customer_ev.CustomerDeleted,
    CUSTOMER_MERGED: customer_ev.CustomerMerged,
    CUSTOMER_UNMERGED: customer_ev.CustomerUnmerged,
    CUSTOMER_ERASED: customer_ev.CustomerErased,
    PURCHASE_RECORDED: customer_ev.PurchaseRecorded,
    PURCHASE_RETURNED: customer_ev.PurchaseReturned,
    INTERACTION_RECORDED: customer_ev.InteractionRecorded,
    ASSIGNMENT_CHANGED: associate_ev.AssignmentChanged,
    ASSOCIATE_CREATED: associate_ev.AssociateChanged,
    ASSOCIATE_UPDATED: associate_ev.AssociateChanged,
    ASSOCIATE_DEPARTED: associate_ev.AssociateDeparted,
    STORE_CREATED: associate_ev.StoreChanged,
    STORE_UPDATED: associate_ev.StoreChanged,
    TASK_CREATED: associate_ev.TaskChanged,
    TASK_UPDATED: associate_ev.TaskChanged,
    ATTRIBUTION_RECORDED: associate_ev.AttributionChanged,
    ATTRIBUTION_CORRECTED: associate_ev.AttributionChanged,
}
