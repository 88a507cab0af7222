"""Assignment rules applied to customer events (the `assignment` consumer): the facts are
gathered from storage, the decision is domain.assignment's, and every change is recorded
with its assignment_changed event in the event's own transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from atelier.customer.v1 import interaction_pb2
from atelier.events.v1 import customer_events_pb2 as cev, envelope_pb2
from servicekit import outbox
from servicekit.auth import SYSTEM
from servicekit.events import unpack
from servicekit.inbox import PoisonEvent

from . import events
from .domain import assignment as rules
from .domain.staff import normalise_referral_code
from .storage import assignments, staff as staff_db

CREATED = "atelier.customer.created"
INTERACTION = "atelier.customer.interaction_recorded"
MERGED = "atelier.customer.merged"
ERASED = "atelier.customer.erased"
DELETED = "atelier.customer.deleted"
EVENT_TYPES = (CREATED, INTERACTION, MERGED, ERASED, DELETED)

_ACTOR = SYSTEM.subject


def customer_id_of(name: str, collection: str = "customers") -> str:
    prefix = collection + "/"
    if not name.startswith(prefix) or len(name) == len(prefix):
        raise PoisonEvent(f"not a {collection} name: {name!r}")
    return name[len(prefix):]


async def referral_from(conn: AsyncConnection, code: str, actor: str) -> str | None:
    """The active associate a referral code names, else the associate who created her on
    her tablet (the actor of the event) if active."""
    by_code = await staff_db.active_by_referral_code(conn, normalise_referral_code(code))
    if by_code:
        return by_code
    if actor.startswith("associates/"):
        row = await staff_db.get(conn, actor.split("/", 1)[1])
        if row is not None and row.status == 1 and row.role in (1, 2):
            return row.id
    return None


async def handle(conn: AsyncConnection, envelope: envelope_pb2.EventEnvelope) -> None:
    if envelope.type == CREATED:
        changes = await _created(conn, envelope)
    elif envelope.type == INTERACTION:
        changes = await _interaction(conn, envelope)
    elif envelope.type == MERGED:
        changes = await _merged(conn, unpack(envelope, cev.CustomerMerged))
    elif envelope.type == ERASED:
        cid = customer_id_of(unpack(envelope, cev.CustomerErased).customer)
        await assignments.lock(conn, cid)
        changes = await assignments.remove_all(conn, cid, rules.CUSTOMER_REMOVED, "erased", _ACTOR)
    else:
        cid = customer_id_of(unpack(envelope, cev.CustomerDeleted).customer)
        await assignments.lock(conn, cid)
        changes = await assignments.remove_all(conn, cid, rules.CUSTOMER_REMOVED, "deleted", _ACTOR)
    if changes:
        await outbox.record(conn, *(events.assignment_changed(c, _ACTOR) for c in changes))


async def _created(conn: AsyncConnection, envelope) -> list:
    payload = unpack(envelope, cev.CustomerCreated)
    cid = customer_id_of(payload.customer.name)
    await assignments.lock(conn, cid)
    current = await assignments.holding(conn, cid)
    if current.primary or current.in_pool:
        return []
    referral = await referral_from(conn, payload.referral_code or payload.customer.referral_code, envelope.actor)
    home = payload.customer.home_store
    candidates = []
    if not referral and home.startswith("stores/"):
        candidates = await staff_db.candidates(conn, home.split("/", 1)[1])
    decision = rules.for_new_customer(referral=referral, home_store=home, candidates=candidates)
    return await assignments.set_primary(conn, cid, decision.associate_id, decision.reason, "", _ACTOR)


async def _interaction(conn: AsyncConnection, envelope) -> list:
    payload = unpack(envelope, cev.InteractionRecorded)
    scan = payload.interaction
    if scan.kind != interaction_pb2.INTERACTION_KIND_QR_SCAN or not scan.referral_code:
        return []
    scanned = await staff_db.active_by_referral_code(conn, normalise_referral_code(scan.referral_code))
    if scanned is None:
        return []
    cid = customer_id_of(payload.customer)
    await assignments.lock(conn, cid)
    current = await assignments.holding(conn, cid)
    if not rules.scan_binds(current.primary, current.primary_reason, scanned):
        return []
    return await assignments.set_primary(conn, cid, scanned, rules.REFERRAL, "QR card scanned", _ACTOR)


async def _merged(conn: AsyncConnection, payload) -> list:
    """The duplicate's holders follow her into the survivor where the survivor has room:
    her primary becomes the survivor's if the survivor has none, her secondaries join."""
    survivor, duplicate = customer_id_of(payload.survivor), customer_id_of(payload.duplicate)
    for cid in sorted((survivor, duplicate)):  # one lock order, no deadlock between merges
        await assignments.lock(conn, cid)
    before = await assignments.holding(conn, duplicate)
    changes = await assignments.remove_all(conn, duplicate, rules.CUSTOMER_REMOVED, f"merged into {payload.survivor}", _ACTOR)
    kept = await assignments.holding(conn, survivor)
    note = f"merged from {payload.duplicate}"
    if before.primary and not kept.primary:
        changes += await assignments.set_primary(conn, survivor, before.primary, rules.TRANSFER, note, _ACTOR)
    for aid in before.secondaries:
        changes += await assignments.add_secondary(conn, survivor, aid, rules.TRANSFER, note, _ACTOR)
    return changes
