"""The client book: an associate's customers or a store's, from the read model, and the
read model kept current from customer events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from atelier.associate.v1 import associate_service_pb2 as api
from servicekit.audit import AuditWriter
from servicekit.auth import Principal
from servicekit.paging import Page
from servicekit.uow import Transactions, UnitOfWork

from ..domain import access
from ..domain.book import BookFilter, CustomerProfile, Order
from ..domain.names import prefixed
from ..messages import assignment as messages
from ..storage import associates, book, stores
from .audit_trail import ReadAudit
from .reads import found


async def list_book(
    tx: Transactions,
    audit: AuditWriter,
    caller: Principal,
    parent: str,
    read: ReadAudit,
    *,
    associate_id: str | None,
    store_id: str | None,
    flt: BookFilter,
    order: Order,
    page: Page,
) -> api.ListClientBookResponse:
    """ListClientBook: `parent` is `associates/{associate_id}` or `stores/{store_id}`. Each
    customer the page shows is audited (usecases.audit_trail)."""
    async with tx.snapshot() as conn:
        store = parent
        if associate_id is not None:
            store = prefixed("stores", found(await associates.get(conn, associate_id), parent).store_id)
        access.check_book(caller, "associates" if associate_id is not None else "stores", parent, store)
        if store_id is not None:
            found(await stores.get(conn, store_id), parent)
        rows = await book.page(
            conn, associate=associate_id, store=store_id, flt=flt, order=order, after=page.position, limit=page.limit
        )
    shown = page.items(rows)
    for record in read.records(caller, (r.customer_id for r in shown)):
        audit.record(record)
    return api.ListClientBookResponse(
        entries=[messages.book_entry(r) for r in shown],
        next_page_token=page.next_token(rows, lambda r: [repr(r.sort_key), r.customer_id, r.associate_id]),
    )


async def profile_changed(uow: UnitOfWork, customer_id: str, profile: CustomerProfile) -> None:
    await book.upsert_profile(uow.conn, customer_id, profile)


async def purchase_recorded(
    uow: UnitOfWork, customer_id: str, purchase: str, amount: Decimal, currency: str, when: datetime
) -> None:
    """Counted once per purchase (a replayed order under a new event id adds nothing)."""
    await book.add_purchase(uow.conn, customer_id, purchase, amount, currency, when)


async def contacted(uow: UnitOfWork, customer_id: str, when: datetime) -> None:
    await book.touch(uow.conn, customer_id, when)


async def customers_merged(uow: UnitOfWork, survivor: str, duplicate: str) -> None:
    await book.merge(uow.conn, survivor, duplicate)


async def customer_forgotten(uow: UnitOfWork, customer_id: str) -> None:
    """Erased or deleted: nothing of her stays in the read model."""
    await book.forget(uow.conn, customer_id)
