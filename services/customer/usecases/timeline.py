"""Touchpoints recorded from every channel, and the merged timeline of interactions,
purchases, notes and consent changes (a read of personal data: audited)."""

from __future__ import annotations

from atelier.customer.v1 import interaction_pb2
from atelier.customer.v1 import timeline_service_pb2 as api
from servicekit import names
from servicekit.audit import AuditWriter
from servicekit.auth import Principal
from servicekit.paging import Page
from servicekit.uow import Transactions

from ..domain import access
from ..domain import interactions as interaction_rules
from ..domain.interactions import NewInteraction
from ..domain.timeline import EntryKind
from ..messages import events
from ..messages import timeline as messages
from ..messages.purchases import interaction
from ..storage import consents, interactions, notes, purchases, timeline
from . import directory
from .audit_trail import ReadAudit
from .reach import reached


async def record_interaction(
    tx: Transactions, caller: Principal, customer_id: str, parent: str, new: NewInteraction
) -> interaction_pb2.Interaction:
    """An external id names a touchpoint of this customer: the same id recorded for
    another customer is another touchpoint (and says nothing of her). A replayed webhook
    (same kind, channel and external id for her) records nothing and answers the first
    recording when it repeats its request, and is refused otherwise (domain/replays)."""
    fingerprint = interaction_rules.fingerprint(new)
    # The code scanned is on the card of a member of staff the directory knows.
    await directory.check_references(tx, referral_codes={"interaction.referral_code": new.referral_code})
    async with tx.begin(caller) as uow:
        await reached(uow.conn, caller, customer_id, parent, access.check_write)
        row, fresh = await interactions.insert(uow.conn, names.new_id(), customer_id, new, fingerprint)
        recorded = interaction(row)
        if not fresh:
            interaction_rules.check_replay(row.request_fingerprint, fingerprint)
            return recorded
        uow.emit(events.interaction_recorded(parent, recorded, caller.subject))
    return recorded


async def list_timeline(
    tx: Transactions,
    audit: AuditWriter,
    caller: Principal,
    customer_id: str,
    parent: str,
    kinds: set[int],
    interaction_kinds: list[int],
    page: Page,
    read: ReadAudit,
) -> api.ListTimelineResponse:
    async with tx.snapshot() as conn:
        await reached(conn, caller, customer_id, parent, access.check_read)
        audit.record(read.record(caller, f"customers/{customer_id}"))
        keys = await timeline.page(conn, customer_id, kinds, interaction_kinds, page.position, page.limit)
        shown = keys[: page.size]

        def ids(kind: EntryKind) -> list[str]:
            return [key for _, k, key in shown if k == kind]

        entries = messages.Entries(
            interactions=await interactions.get_many(conn, ids(EntryKind.INTERACTION)),
            purchases=await purchases.get_many(conn, ids(EntryKind.PURCHASE)),
            notes=await notes.get_many(conn, ids(EntryKind.NOTE)),
            consent_changes=await consents.get_many(conn, [int(i) for i in ids(EntryKind.CONSENT_CHANGE)]),
        )
    response = messages.timeline(parent, shown, entries)
    response.next_page_token = page.next_token(keys, lambda last: [last[0].isoformat(), last[1], last[2]])
    return response
