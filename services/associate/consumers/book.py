"""The `book` consumer: keeps the client book's read model current from customer events."""

from __future__ import annotations

from atelier.customer.v1 import customer_pb2
from atelier.events.v1 import customer_events_pb2 as cev
from atelier.events.v1 import envelope_pb2
from servicekit import event_types, wire
from servicekit.uow import UnitOfWork

from ..domain.book import CustomerProfile
from ..domain.interactions import CONTACTS
from ..usecases import book
from .payloads import customer_id_of, payload, time

EVENT_TYPES = (
    event_types.CUSTOMER_CREATED,
    event_types.CUSTOMER_UPDATED,
    event_types.PURCHASE_RECORDED,
    event_types.INTERACTION_RECORDED,
    event_types.CUSTOMER_MERGED,
    event_types.CUSTOMER_UNMERGED,
    event_types.CUSTOMER_ERASED,
    event_types.CUSTOMER_DELETED,
)


async def _profile_changed(uow: UnitOfWork, customer: customer_pb2.Customer) -> None:
    names = (customer.given_name, customer.family_name, customer.preferred_name)
    profile = CustomerProfile(*names, home_store=customer.home_store, tier=customer.tier, tags=tuple(customer.tags))
    await book.profile_changed(uow, customer_id_of(customer.name), profile)


async def handle(uow: UnitOfWork, envelope: envelope_pb2.EventEnvelope) -> None:
    kind = envelope.type
    if kind == event_types.CUSTOMER_CREATED:
        await _profile_changed(uow, payload(envelope, cev.CustomerCreated).customer)
    elif kind == event_types.CUSTOMER_UPDATED:
        await _profile_changed(uow, payload(envelope, cev.CustomerUpdated).customer)
    elif kind == event_types.PURCHASE_RECORDED:
        recorded = payload(envelope, cev.PurchaseRecorded)
        purchase = recorded.purchase
        await book.purchase_recorded(
            uow,
            customer_id_of(recorded.customer),
            purchase.name or f"{recorded.customer}/orders/{purchase.order_id}",
            wire.to_decimal(purchase.total),
            purchase.total.currency_code,
            time(purchase.order_time),
        )
    elif kind == event_types.INTERACTION_RECORDED:
        seen = payload(envelope, cev.InteractionRecorded)
        if int(seen.interaction.kind) in CONTACTS and seen.interaction.HasField("occur_time"):
            await book.contacted(uow, customer_id_of(seen.customer), time(seen.interaction.occur_time))
    elif kind == event_types.CUSTOMER_MERGED:
        merged = payload(envelope, cev.CustomerMerged)
        await book.customers_merged(uow, customer_id_of(merged.survivor), customer_id_of(merged.duplicate))
    elif kind == event_types.CUSTOMER_UNMERGED:
        # She is back: her profile as restored (her purchases and contacts stay counted on
        # the survivor, as the merge left them).
        await _profile_changed(uow, payload(envelope, cev.CustomerUnmerged).customer)
    elif kind == event_types.CUSTOMER_ERASED:
        await book.customer_forgotten(uow, customer_id_of(payload(envelope, cev.CustomerErased).customer))
    elif kind == event_types.CUSTOMER_DELETED:
        await book.customer_forgotten(uow, customer_id_of(payload(envelope, cev.CustomerDeleted).customer))
