"""The `assignment` consumer: customer events applied to who holds her (referral, store
rule, pool, QR scans, merges and unmerges, erasure and deletion), and to what access knows
of her (that she exists, her home store)."""

from __future__ import annotations

from atelier.customer.v1 import interaction_pb2
from atelier.events.v1 import customer_events_pb2 as cev
from atelier.events.v1 import envelope_pb2
from servicekit import event_types
from servicekit.uow import UnitOfWork

from ..domain.tasks import TaskRuleConfig
from ..usecases import assignments, privacy
from .payloads import customer_id_of, payload, time

EVENT_TYPES = (
    event_types.CUSTOMER_CREATED,
    event_types.CUSTOMER_UPDATED,
    event_types.INTERACTION_RECORDED,
    event_types.CUSTOMER_MERGED,
    event_types.CUSTOMER_UNMERGED,
    event_types.CUSTOMER_ERASED,
    event_types.CUSTOMER_DELETED,
)


async def handle(uow: UnitOfWork, envelope: envelope_pb2.EventEnvelope, *, config: TaskRuleConfig) -> None:
    """`config`: the task rules' settings (a scan naming another store's associate opens a
    task for her store's manager); app.py binds them."""
    kind = envelope.type
    if kind == event_types.CUSTOMER_CREATED:
        created = payload(envelope, cev.CustomerCreated)
        customer = created.customer
        await assignments.customer_created(
            uow,
            customer_id_of(customer.name),
            created.referral_code or customer.referral_code,
            customer.home_store,
            envelope.actor,
        )
    elif kind == event_types.CUSTOMER_UPDATED:
        customer = payload(envelope, cev.CustomerUpdated).customer
        await assignments.customer_updated(uow, customer_id_of(customer.name), customer.home_store)
    elif kind == event_types.INTERACTION_RECORDED:
        recorded = payload(envelope, cev.InteractionRecorded)
        scan = recorded.interaction
        if scan.kind == interaction_pb2.INTERACTION_KIND_QR_SCAN and scan.referral_code:
            await assignments.qr_scanned(
                uow,
                customer_id_of(recorded.customer),
                scan.referral_code,
                scan.name or envelope.id,
                time(scan.occur_time) if scan.HasField("occur_time") else time(envelope.occurred_at),
                envelope.id,
                config,
            )
    elif kind == event_types.CUSTOMER_MERGED:
        merged = payload(envelope, cev.CustomerMerged)
        await assignments.customers_merged(uow, customer_id_of(merged.survivor), customer_id_of(merged.duplicate))
    elif kind == event_types.CUSTOMER_UNMERGED:
        unmerged = payload(envelope, cev.CustomerUnmerged)
        restored = unmerged.customer
        await assignments.customer_unmerged(
            uow, customer_id_of(unmerged.duplicate), restored.home_store, unmerged.merge
        )
    elif kind == event_types.CUSTOMER_ERASED:
        erased = payload(envelope, cev.CustomerErased)
        await privacy.holders_erased(uow, customer_id_of(erased.customer))
    elif kind == event_types.CUSTOMER_DELETED:
        deleted = payload(envelope, cev.CustomerDeleted)
        await assignments.customer_removed(uow, customer_id_of(deleted.customer), "deleted")
