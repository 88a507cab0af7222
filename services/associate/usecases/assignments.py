"""Who holds a customer: reading her assignment and its history, the headquarters pool,
transfers, and the assignment rules applied to customer events (a new customer, a QR
scan, a merge and its undoing, an erasure or deletion)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from atelier.associate.v1 import assignment_pb2
from atelier.associate.v1 import associate_service_pb2 as api
from servicekit.auth import Principal
from servicekit.errors import NotFound
from servicekit.paging import Page
from servicekit.uow import Idempotent, Transactions, UnitOfWork

from ..domain import access, assignment
from ..domain.assignment import Reason, Role, ScanOutcome
from ..domain.names import bare, prefixed
from ..domain.staff import holds_books, normalise_referral_code
from ..domain.tasks import TaskRuleConfig
from ..messages import assignment as messages
from ..storage import assignments, associates, customers
from . import customer_facts, holders, task_triggers
from .reads import found


async def get_customer_assignment(
    tx: Transactions, caller: Principal, customer_id: str, name: str
) -> assignment_pb2.CustomerAssignment:
    async with tx.snapshot() as conn:
        holding, facts = await customer_facts.load(conn, customer_id)
    access.check_reach_customer(caller, facts)
    if not holding.holders and not holding.in_pool:
        raise NotFound(name)
    return messages.customer_assignment(customer_id, holding)


async def list_assignment_history(
    tx: Transactions, caller: Principal, customer_id: str, parent: str, page: Page
) -> api.ListAssignmentHistoryResponse:
    """Newest change first; the page position is the last change's id. The history of a
    customer who was erased or merged away stays readable (by headquarters)."""
    async with tx.snapshot() as conn:
        _, facts = await customer_facts.load(conn, customer_id)
        if not facts.known and await customers.ever_held(conn, customer_id):
            facts = dataclasses.replace(facts, known=True)
        access.check_reach_customer(caller, facts)
        rows = await assignments.history_page(conn, customer_id, page.position, page.limit)
    records = [messages.record(r) for r in page.items(rows)]
    return api.ListAssignmentHistoryResponse(records=records, next_page_token=page.next_token(rows, lambda r: [r.id]))


async def list_unassigned(tx: Transactions, caller: Principal, page: Page) -> api.ListUnassignedResponse:
    """The headquarters pool, oldest first: all of it for headquarters, the customers of
    her store for a manager."""
    store = access.pool_scope(caller)
    async with tx.read() as conn:
        rows = await assignments.pool_page(conn, store, page.position, page.limit)
    return api.ListUnassignedResponse(
        assignments=[messages.pooled(r) for r in page.items(rows)],
        next_page_token=page.next_token(rows, lambda r: [r.since.isoformat(), r.customer_id]),
    )


async def transfer_customer(
    tx: Transactions,
    caller: Principal,
    request: api.TransferClientRequest,
    customer_id: str,
    associate_id: str,
    role: Role,
    reason: str,
) -> assignment_pb2.CustomerAssignment:
    """TransferClient: headquarters, or the manager of her home store and of all her
    holders' stores, gives her to an active associate (of that manager's store) as
    primary or as one more secondary."""

    async def work(uow: UnitOfWork) -> assignment_pb2.CustomerAssignment:
        conn = uow.conn
        await assignments.lock(conn, customer_id)
        _, facts = await customer_facts.load(conn, customer_id)
        access.check_transfer(caller, facts)
        receiver = found(await associates.get(conn, associate_id), request.associate)
        access.check_receiver(caller, receiver, request.associate)
        if role is Role.PRIMARY:
            await holders.make_primary(uow, customer_id, associate_id, Reason.TRANSFER, reason)
        else:
            await holders.add_secondary(uow, customer_id, associate_id, Reason.TRANSFER, reason)
        return messages.customer_assignment(customer_id, await assignments.holding(conn, customer_id))

    idempotent = Idempotent("TransferClient", request, assignment_pb2.CustomerAssignment)
    return await tx.run(caller, work, idempotent=idempotent)


# -- customer events ------------------------------------------------------------------


async def _referral(conn: AsyncConnection, code: str, actor: str) -> str | None:
    """The active associate a referral code names, else the associate who created her on
    her tablet (the actor of the event) if she holds a book."""
    by_code = await associates.active_by_referral_code(conn, normalise_referral_code(code))
    if by_code:
        return by_code
    if actor.startswith("associates/"):
        creator = await associates.get(conn, bare(actor, "associates"))
        if creator is not None and holds_books(creator):
            return creator.id
    return None


async def _known_and_unheld(conn: AsyncConnection, customer_id: str, home_store: str) -> bool:
    """Under her lock: she is known (with her home store), and whether nobody holds her
    yet (no primary associate, not in the pool)."""
    await assignments.lock(conn, customer_id)
    await customers.remember(conn, customer_id, home_store)
    current = await assignments.holding(conn, customer_id)
    return not (current.primary or current.in_pool)


async def customer_created(uow: UnitOfWork, customer_id: str, referral_code: str, home_store: str, actor: str) -> None:
    """A new customer is bound by referral, else to her home store's least-loaded
    associate, else parked in the headquarters pool. One she already has is kept."""
    conn = uow.conn
    if not await _known_and_unheld(conn, customer_id, home_store):
        return
    referral = await _referral(conn, referral_code, actor)
    candidates = []
    if not referral and home_store.startswith("stores/"):
        candidates = await associates.candidates(conn, bare(home_store, "stores"))
    decision = assignment.for_new_customer(referral=referral, home_store=home_store, candidates=candidates)
    await holders.make_primary(uow, customer_id, decision.associate_id, decision.reason, "")


async def qr_scanned(
    uow: UnitOfWork,
    customer_id: str,
    referral_code: str,
    scan: str,
    when: datetime,
    event_id: str,
    config: TaskRuleConfig,
) -> None:
    """She scanned an associate's QR card (`scan`: the interaction, or the event, that says
    so): bound to that associate, left as she is, or her store's manager told, as
    domain.assignment.after_scan decides. A customer the service does not know is left
    alone (nothing is planted on an id that does not exist)."""
    conn = uow.conn
    scanned = await associates.active_by_referral_code(conn, normalise_referral_code(referral_code))
    if scanned is None:
        return
    scanned_store = prefixed("stores", await associates.store_of(conn, scanned))
    await assignments.lock(conn, customer_id)
    holding, facts = await customer_facts.load(conn, customer_id)
    if not facts.known:
        return
    decision = assignment.after_scan(holding, scanned, scanned_store, facts.home_store, facts.holder_stores)
    if decision.outcome is ScanOutcome.BIND:
        await holders.make_primary(uow, customer_id, scanned, Reason.REFERRAL, "QR card scanned")
    elif decision.outcome is ScanOutcome.REFER:
        await task_triggers.scan_elsewhere(
            uow,
            event_id,
            customer_id,
            scan,
            when,
            decision.review_store,
            f"associates/{scanned}",
            scanned_store,
            config,
        )


async def customers_merged(uow: UnitOfWork, survivor: str, duplicate: str) -> None:
    conn = uow.conn
    for customer_id in sorted((survivor, duplicate)):  # one lock order, no deadlock between merges
        await assignments.lock(conn, customer_id)
    before = await assignments.holding(conn, duplicate)
    await customers.forget(conn, duplicate)
    await holders.remove_all(uow, duplicate, Reason.CUSTOMER_REMOVED, f"merged into customers/{survivor}")
    kept = await assignments.holding(conn, survivor)
    primary, secondaries = assignment.followers_after_merge(before, kept)
    note = f"merged from customers/{duplicate}"
    if primary:
        await holders.make_primary(uow, survivor, primary, Reason.TRANSFER, note)
    for associate_id in secondaries:
        await holders.add_secondary(uow, survivor, associate_id, Reason.TRANSFER, note)


async def customer_unmerged(uow: UnitOfWork, customer_id: str, home_store: str, merge: str) -> None:
    """An unmerge brought her back (`customer_id`, the merge's duplicate): she is known
    again, and held by the usual rules: the primary associate she had before the merge if
    that associate still holds books, else her home store's least-loaded active
    associate, else the headquarters pool. One who is already held again is kept."""
    conn = uow.conn
    if not await _known_and_unheld(conn, customer_id, home_store):
        return
    last = await assignments.last_primary(conn, customer_id)
    before = assignment.Decision(last[0], Reason(last[1])) if last is not None else None
    previous = await associates.get(conn, last[0]) if last is not None else None
    candidates = []
    if home_store.startswith("stores/"):
        candidates = await associates.candidates(conn, bare(home_store, "stores"))
    decision = assignment.for_restored_customer(
        before=before,
        before_holds_books=previous is not None and holds_books(previous),
        home_store=home_store,
        candidates=candidates,
    )
    await holders.make_primary(uow, customer_id, decision.associate_id, decision.reason, f"restored by {merge}")


async def customer_removed(uow: UnitOfWork, customer_id: str, how: str) -> None:
    """Erased or deleted: nobody holds her any more (`how` is the history's note)."""
    await assignments.lock(uow.conn, customer_id)
    await customers.forget(uow.conn, customer_id)
    await holders.remove_all(uow, customer_id, Reason.CUSTOMER_REMOVED, how)


async def customer_updated(uow: UnitOfWork, customer_id: str, home_store: str) -> None:
    """Her home store as her latest change says (transfers, claims and the pool follow it)."""
    await assignments.lock(uow.conn, customer_id)
    await customers.remember(uow.conn, customer_id, home_store)
