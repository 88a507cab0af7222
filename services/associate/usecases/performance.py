"""Figures and the attribution ledger over the API: an associate's or a store's
performance, the ledger's entries and their corrections (managers and headquarters)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from atelier.associate.v1 import performance_pb2
from atelier.associate.v1 import performance_service_pb2 as api
from servicekit.auth import Principal, Role
from servicekit.errors import NotFound, invalid
from servicekit.paging import Page
from servicekit.uow import Transactions, check_etag

from ..domain import access
from ..domain.access import FigureScope
from ..domain.attribution import Basis
from ..domain.names import prefixed
from ..messages import events
from ..messages import performance as messages
from ..storage import associates, ledger, performance


async def _check_scope(conn: AsyncConnection, caller: Principal, scope: FigureScope) -> None:
    associate_store = None
    if scope.associate and caller.role is Role.MANAGER:
        associate_store = await associates.store_of(conn, scope.associate)
    access.check_figures(caller, scope, associate_store)


async def get_performance(
    tx: Transactions, caller: Principal, scope: FigureScope, name: str, start: datetime, end: datetime
) -> performance_pb2.Performance:
    async with tx.snapshot() as conn:
        await _check_scope(conn, caller, scope)
        figures = await performance.figures(conn, scope, start, end, datetime.now(UTC))
    return messages.performance(name, figures, start, end)


async def list_attributions(
    tx: Transactions,
    caller: Principal,
    scope: FigureScope | None,
    start: datetime | None,
    end: datetime | None,
    page: Page,
) -> api.ListAttributionsResponse:
    """Newest order first. `scope` None: what the caller may see (store staff their own)."""
    scope = scope or access.default_figure_scope(caller)
    async with tx.snapshot() as conn:
        await _check_scope(conn, caller, scope)
        rows = await ledger.list_page(conn, scope, start, end, page.position, page.limit)
    return api.ListAttributionsResponse(
        attributions=[messages.attribution(r) for r in page.items(rows)],
        next_page_token=page.next_token(rows, lambda r: [r.order_time.isoformat(), r.id]),
    )


async def correct_attribution(
    tx: Transactions,
    caller: Principal,
    attribution_id: str,
    name: str,
    associate_id: str,
    reason: str,
    expected: int | None,
) -> performance_pb2.Attribution:
    """Credits another associate (or nobody, ''), with the reason kept in the audit: a
    manager her store's entries to an active associate of her store, headquarters any
    entry to any existing associate (audit item 6)."""
    async with tx.begin(caller) as uow:
        row = await ledger.get(uow.conn, attribution_id, lock=True)
        if row is None:
            if access.everywhere(caller):
                raise NotFound(name)
            # Store staff learn the same as for another store's entry (AIP-211).
            access.check_correct(caller, "", name)
            raise NotFound(name)
        access.check_correct(caller, row.store_id, name)
        if associate_id:
            credited = f"associates/{associate_id}"
            access.check_credit(caller, await associates.get(uow.conn, associate_id), credited)
        check_etag(expected, row.version)
        if associate_id == row.associate_id:
            raise invalid("associate", "already credited with this purchase")
        updated = await ledger.correct(
            uow.conn,
            attribution_id,
            previous=row.associate_id,
            associate=associate_id,
            reason=reason,
            actor=caller.subject,
            basis=Basis.CORRECTED,
        )
        message = messages.attribution(updated)
        previous = prefixed("associates", row.associate_id)
        uow.emit(events.attribution_changed(message, caller.subject, previous=previous, reason=reason))
    return message
