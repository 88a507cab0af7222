"""Who holds a customer: reading her assignment and its history, the headquarters pool,
transfers, and the assignment rules applied to customer events (a new customer, a QR
scan, a merge, an erasure or deletion)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from atelier.associate.v1 import assignment_pb2
from atelier.associate.v1 import associate_service_pb2 as api
from servicekit.auth import Principal
from servicekit.errors import NotFound
from servicekit.uow import Idempotent, Transactions, UnitOfWork

from ..domain import access, assignment
from ..domain.assignment import Holding, Reason, Role
from ..domain.names import bare, prefixed
from ..domain.staff import check_not_departed, holds_books, normalise_referral_code
from ..messages import assignment as messages
from ..storage import assignments, associates, book
from . import holders
from .reads import Page, found


async def _facts(conn: AsyncConnection, customer_id: str) -> tuple[Holding, set[str], str]:
    """Who holds her, the stores of her holders and her home store: what access needs."""
    holding = await assignments.holding(conn, customer_id)
    rows = await associates.get_many(conn, list(holding.holders))
    holder_stores = {prefixed("stores", r.store_id) for r in rows.values()}
    return holding, holder_stores, await book.home_store(conn, customer_id)


async def get_customer_assignment(
    tx: Transactions, caller: Principal, customer_id: str, name: str
) -> assignment_pb2.CustomerAssignment:
    async with tx.snapshot() as conn:
        holding, stores, home = await _facts(conn, customer_id)
    access.check_see_customer(caller, holding.holders, stores, home, name)
    if not holding.holders and not holding.in_pool:
        raise NotFound(name)
    return messages.customer_assignment(customer_id, holding)


async def list_assignment_history(
    tx: Transactions, caller: Principal, customer_id: str, parent: str, page: Page
) -> api.ListAssignmentHistoryResponse:
    """Newest change first; the page position is the last change's id."""
    async with tx.snapshot() as conn:
        holding, stores, home = await _facts(conn, customer_id)
        access.check_see_customer(caller, holding.holders, stores, home, parent)
        rows = await assignments.history_page(conn, customer_id, page.position, page.limit)
    records = [messages.record(r) for r in page.items(rows)]
    return api.ListAssignmentHistoryResponse(records=records, next_page_token=page.next_token(rows, lambda r: [r.id]))


async def list_unassigned(tx: Transactions, caller: Principal, page: Page) -> api.ListUnassignedResponse:
    """The headquarters pool, oldest first."""
    access.check_see_pool(caller)
    async with tx.read() as conn:
        rows = await assignments.pool_page(conn, page.position, page.limit)
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
    """TransferClient: a manager of the stores concerned, or headquarters, gives her to
    another associate (as primary, or as one more secondary)."""

    async def work(uow: UnitOfWork) -> assignment_pb2.CustomerAssignment:
        conn = uow.conn
        await assignments.lock(conn, customer_id)
        target = found(await associates.get(conn, associate_id), request.associate)
        check_not_departed(target, request.associate)
        holding = await assignments.holding(conn, customer_id)
        primary_store = (
            prefixed("stores", await associates.store_of(conn, holding.primary)) if holding.primary else None
        )
        home = await book.home_store(conn, customer_id)
        concerned = assignment.stores_concerned(role, prefixed("stores", target.store_id), primary_store, home)
        access.check_transfer(caller, concerned, f"customers/{customer_id}")
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


async def customer_created(uow: UnitOfWork, customer_id: str, referral_code: str, home_store: str, actor: str) -> None:
    """A new customer is bound by referral, else to her home store's least-loaded
    associate, else parked in the headquarters pool. One she already has is kept."""
    conn = uow.conn
    await assignments.lock(conn, customer_id)
    current = await assignments.holding(conn, customer_id)
    if current.primary or current.in_pool:
        return
    referral = await _referral(conn, referral_code, actor)
    candidates = []
    if not referral and home_store.startswith("stores/"):
        candidates = await associates.candidates(conn, bare(home_store, "stores"))
    decision = assignment.for_new_customer(referral=referral, home_store=home_store, candidates=candidates)
    await holders.make_primary(uow, customer_id, decision.associate_id, decision.reason, "")


async def qr_scanned(uow: UnitOfWork, customer_id: str, referral_code: str) -> None:
    """She scanned an associate's QR card: she is bound to that associate unless someone
    (not a rule) placed her."""
    conn = uow.conn
    scanned = await associates.active_by_referral_code(conn, normalise_referral_code(referral_code))
    if scanned is None:
        return
    await assignments.lock(conn, customer_id)
    current = await assignments.holding(conn, customer_id)
    if assignment.scan_binds(current.primary, current.primary_reason, scanned):
        await holders.make_primary(uow, customer_id, scanned, Reason.REFERRAL, "QR card scanned")


async def customers_merged(uow: UnitOfWork, survivor: str, duplicate: str) -> None:
    conn = uow.conn
    for customer_id in sorted((survivor, duplicate)):  # one lock order, no deadlock between merges
        await assignments.lock(conn, customer_id)
    before = await assignments.holding(conn, duplicate)
    await holders.remove_all(uow, duplicate, Reason.CUSTOMER_REMOVED, f"merged into customers/{survivor}")
    kept = await assignments.holding(conn, survivor)
    primary, secondaries = assignment.followers_after_merge(before, kept)
    note = f"merged from customers/{duplicate}"
    if primary:
        await holders.make_primary(uow, survivor, primary, Reason.TRANSFER, note)
    for associate_id in secondaries:
        await holders.add_secondary(uow, survivor, associate_id, Reason.TRANSFER, note)


async def customer_removed(uow: UnitOfWork, customer_id: str, how: str) -> None:
    """Erased or deleted: nobody holds her any more (`how` is the history's note)."""
    await assignments.lock(uow.conn, customer_id)
    await holders.remove_all(uow, customer_id, Reason.CUSTOMER_REMOVED, how)
