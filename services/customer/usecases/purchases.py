"""Orders and returns from POS and e-commerce. One unit of work each: the purchase (or
return), the customer's figures and computed tags, a customer created at the till, and
their events commit together. Reading purchases is a read of personal data: audited."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from atelier.customer.v1 import purchase_pb2
from atelier.customer.v1 import purchase_service_pb2 as api
from servicekit import names
from servicekit.audit import AuditWriter
from servicekit.auth import Principal
from servicekit.errors import AlreadyExists, NotFound, Violations
from servicekit.paging import Page
from servicekit.uow import Transactions, UnitOfWork

from ..domain import access, computed_tags, matching, profile
from ..domain import purchases as purchase_rules
from ..domain.directory import StaffRecord
from ..domain.purchases import NewPurchase, NewReturn, check_returnable, refund_spend
from ..messages import customers as customer_messages
from ..messages import events
from ..messages import purchases as messages
from ..storage import customers, purchases, stats
from ..storage import directory as staff_directory
from ..storage import matching as contact_owners
from . import directory
from .assignments import hold_if_associate
from .audit_trail import ReadAudit
from .reach import reached, read_of, required

# A concurrent first purchase of the same unknown client, or of the same order, makes one
# transaction lose on a unique constraint; replaying it once then matches what won.
_ATTEMPTS = 2
# How often the directory is read while waiting for a member of staff not known yet.
_POLL = 0.1


class _Retry(Exception):
    """The unit of work lost a race on a unique constraint: run it again."""


async def get_purchase(
    tx: Transactions,
    audit: AuditWriter,
    caller: Principal,
    customer_id: str,
    purchase_id: str,
    name: str,
    read: ReadAudit,
) -> purchase_pb2.Purchase:
    row = await read_of(tx, caller, customer_id, name, lambda conn: purchases.get(conn, purchase_id))
    if row is None or row.customer_id != customer_id:
        raise NotFound(name)
    audit.record(read.record(caller, f"customers/{customer_id}"))
    return messages.purchase(row)


async def list_purchases(
    tx: Transactions, audit: AuditWriter, caller: Principal, customer_id: str, parent: str, page: Page, read: ReadAudit
) -> api.ListPurchasesResponse:
    rows = await read_of(
        tx, caller, customer_id, parent, lambda conn: purchases.page(conn, customer_id, page.position, page.limit)
    )
    audit.record(read.record(caller, f"customers/{customer_id}"))
    response = api.ListPurchasesResponse(purchases=[messages.purchase(r) for r in rows[: page.size]])
    response.next_page_token = page.next_token(rows, lambda last: [last.order_time.isoformat(), last.id])
    return response


async def record_purchase(
    tx: Transactions,
    rules: computed_tags.TagRules,
    caller: Principal,
    customer_id: str | None,
    unknown: dict[str, Any] | None,
    new: NewPurchase,
) -> purchase_pb2.Purchase:
    """A purchase of the customer `customer_id`, or of the client the contact points of
    `unknown` (validated profile values) find among the customers the caller reaches,
    created in the purchase's store when none does (domain/matching). The purchase's store
    must be known to the directory. A replayed order (same channel and order id) answers
    the first recording when it repeats its request, and is refused otherwise
    (domain/replays)."""
    fingerprint = purchase_rules.fingerprint(customer_id, unknown, new)
    access.check_sale_store(caller, new.store)
    await directory.check_references(tx, stores={"purchase.store": new.store})
    purchase_rules.check_assisting(new, await _assisting(tx, new), "purchase.assisting_associate")
    for attempt in range(_ATTEMPTS):
        try:
            async with tx.begin(caller) as uow:
                return await _record(uow, rules, customer_id, unknown, new, fingerprint)
        except _Retry:
            if attempt == _ATTEMPTS - 1:
                raise AlreadyExists(
                    "the order was recorded concurrently; retry", reason="CONCURRENT_PURCHASE"
                ) from None
    raise AssertionError("unreachable")


async def _record(
    uow: UnitOfWork,
    rules: computed_tags.TagRules,
    customer_id: str | None,
    unknown: dict[str, Any] | None,
    new: NewPurchase,
    fingerprint: str,
) -> purchase_pb2.Purchase:
    conn, caller = uow.conn, uow.caller
    existing = await purchases.by_order(conn, new.channel, new.order_id)
    if existing is not None:
        purchase_rules.check_replay(existing.request_fingerprint, fingerprint)
        await reached(
            conn, caller, existing.customer_id, access.replayed_order_resource(customer_id), access.check_read
        )
        return messages.purchase(existing)

    created = False
    if customer_id is None:
        customer_id, created = await _match_or_create(uow, unknown or {}, new)
    name = f"customers/{customer_id}"
    reach, _ = await reached(conn, caller, customer_id, name, _no_check if created else access.check_write, lock=True)

    purchase_id = names.new_id()
    if not await purchases.insert(conn, purchase_id, customer_id, new, fingerprint):
        raise _Retry()  # the same order committed meanwhile: the next attempt returns it
    await stats.apply(conn, customer_id, new.currency, new.total, 1, new.order_time, new.category_spend())
    await _retag(uow, rules, customer_id)

    recorded = await _stored(conn, purchase_id)
    if created:
        customer = customer_messages.customer(required(await customers.get(conn, customer_id), name), rules)
        uow.emit(events.created(customer, caller.subject))
    uow.emit(events.purchase_recorded(name, recorded, reach.home_store, created, caller.subject))
    return recorded


async def _assisting(tx: Transactions, new: NewPurchase) -> StaffRecord | None:
    """The member of staff the sale is credited to as the directory knows her, waited for
    a moment (as stores and referral codes are) when she is not known yet."""
    associate_id = purchase_rules.assisting_id(new)
    if not associate_id:
        return None
    deadline = time.monotonic() + directory.REFERENCE_WAIT
    while True:
        async with tx.read() as conn:
            found = await staff_directory.staff(conn, associate_id)
        if found is not None or time.monotonic() >= deadline:
            return found
        await asyncio.sleep(_POLL)


def _no_check(caller: Principal, reach: access.Reach, resource: str) -> None:
    """A customer created in this unit of work is the caller's to buy for."""


async def _match_or_create(uow: UnitOfWork, unknown: dict[str, Any], new: NewPurchase) -> tuple[str, bool]:
    """The customer the caller reaches owning one of the contact points (in the order
    given), or a new one in the purchase's store with the points nobody else owns
    (domain/matching). Returns (customer id, whether she was created)."""
    points = unknown["contact_points"]
    owners = await contact_owners.owners_of(uow.conn, points)
    reaches = await customers.reach_of_many(uow.conn, list({o.customer_id for o in owners}))
    reachable = frozenset(cid for cid, reach in reaches.items() if access.can_reach(uow.caller, reach))
    found = matching.identify(points, owners, reachable)
    if found.customer_id is not None:
        return found.customer_id, False
    violations = Violations()
    profile.check_new(unknown, "", "", violations)
    violations.raise_if_any()
    home_store = access.home_store_of_new(uow.caller, new.store)
    access.check_create(uow.caller, home_store)
    customer_id = names.new_id()
    values = {**unknown, "contact_points": list(found.free_points), "home_store": home_store}
    try:
        await customers.insert(uow.conn, customer_id, values, "", profile.search_text(values))
    except AlreadyExists:
        raise _Retry() from None  # her contact point was taken meanwhile: match it next time
    # As for CreateCustomer: the associate at the till holds her new client at once.
    await hold_if_associate(uow, customer_id)
    return customer_id, True


async def record_return(
    tx: Transactions,
    rules: computed_tags.TagRules,
    caller: Principal,
    customer_id: str,
    purchase_id: str,
    name: str,
    new: NewReturn,
) -> purchase_pb2.Purchase:
    """A replayed return (same return id) changes nothing and answers the purchase."""
    async with tx.begin(caller) as uow:
        conn = uow.conn
        await reached(conn, caller, customer_id, name, access.check_write, lock=True)
        locked = await purchases.lock(conn, purchase_id)
        if locked is None or locked.customer_id != customer_id:
            raise NotFound(name)
        stored = required(await purchases.get(conn, purchase_id), name)
        if any(r[0] == new.return_id for r in stored.returns):
            return messages.purchase(stored)
        check_returnable(new, locked.lines, locked.order_time)
        spend = refund_spend(new, locked.lines)
        amount = -sum(spend.values(), Decimal(0))
        if not await purchases.insert_return(conn, purchase_id, customer_id, new, amount):
            return await _stored(conn, purchase_id)
        await stats.apply(conn, customer_id, locked.currency, -amount, 0, locked.order_time, spend)
        await _retag(uow, rules, customer_id)
        result = await _stored(conn, purchase_id)
        uow.emit(events.purchase_returned(f"customers/{customer_id}", result, new.return_id, caller.subject))
    return result


async def _stored(conn: AsyncConnection, purchase_id: str) -> purchase_pb2.Purchase:
    """A purchase this unit of work holds (it wrote it, or holds its lock)."""
    return messages.purchase(required(await purchases.get(conn, purchase_id), f"purchase {purchase_id}"))


async def _retag(uow: UnitOfWork, rules: computed_tags.TagRules, customer_id: str) -> None:
    """Re-evaluate and store the fact-based computed tags from her current figures."""
    figures = await stats.of(uow.conn, customer_id)
    await stats.replace_tags(uow.conn, customer_id, computed_tags.stored_tags(figures, rules))
