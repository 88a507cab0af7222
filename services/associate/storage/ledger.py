"""The attribution ledger: one entry per purchase (the unique purchase column keeps a
redelivered or replayed purchase_recorded from crediting twice) and the audit of manual
corrections, which is only ever appended to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.access import FigureScope
from ..domain.attribution import Sale
from .statements import Filter, Position, as_row, as_rows, by_id, first

_COLUMNS = """a.id, a.purchase, a.customer_id, a.order_id, a.channel, a.store_id, a.currency, a.amount,
a.order_time, a.associate_id, a.basis, a.customer_created, a.version, a.create_time, a.update_time"""

_CORRECTIONS = """COALESCE((SELECT json_agg(json_build_array(c.previous_associate, c.associate, c.reason, c.actor,
                                                   c.correct_time) ORDER BY c.id)
          FROM attribution_corrections c WHERE c.attribution_id = a.id), '[]') AS corrections"""


@dataclass(frozen=True)
class Entry:
    """What a ledger entry says: ids bare, `associate_id` '' when nobody is credited."""

    id: str
    purchase: str
    customer_id: str
    order_id: str
    channel: int
    store_id: str
    currency: str
    amount: Decimal
    order_time: datetime
    associate_id: str
    basis: int
    customer_created: bool


@dataclass(frozen=True)
class AttributionRow(Entry):
    """An entry as stored: its version and its corrections."""

    version: int
    create_time: datetime
    update_time: datetime
    # (previous associate, associate, reason, actor, time as ISO text), oldest first.
    corrections: list[list[Any]]


_INSERT = sa.text(
    f"""
    WITH a AS (
        INSERT INTO attributions (id, purchase, customer_id, order_id, channel, store_id, currency, amount,
                                  order_time, associate_id, basis, customer_created)
        VALUES (:id, :purchase, :customer_id, :order_id, :channel, :store_id, :currency, :amount, :order_time,
                :associate_id, :basis, :customer_created)
        ON CONFLICT (purchase) DO NOTHING
        RETURNING *
    )
    SELECT {_COLUMNS}, '[]'::json AS corrections FROM a
    """
)


async def insert(
    conn: AsyncConnection, entry_id: str, sale: Sale, associate_id: str, basis: int
) -> AttributionRow | None:
    """The entry crediting `associate_id` ('' for nobody) with the sale; None when the
    purchase is already in the ledger."""
    facts = {k: v for k, v in vars(sale).items() if k != "assisting_id"}
    return await first(conn, AttributionRow, _INSERT, id=entry_id, associate_id=associate_id, basis=basis, **facts)


_GET, _GET_LOCKED = by_id(f"SELECT {_COLUMNS}, {_CORRECTIONS} FROM attributions a", "a.id", "FOR UPDATE OF a")


async def get(conn: AsyncConnection, attribution_id: str, *, lock: bool = False) -> AttributionRow | None:
    return await first(conn, AttributionRow, _GET_LOCKED if lock else _GET, id=attribution_id)


_CORRECT = sa.text(
    """
    WITH audit AS (
        INSERT INTO attribution_corrections (attribution_id, previous_associate, associate, reason, actor)
        VALUES (:id, :previous, :associate, :reason, :actor)
    )
    UPDATE attributions SET associate_id = :associate, basis = :basis, version = version + 1, update_time = now()
    WHERE id = :id
    """
)


async def correct(
    conn: AsyncConnection, attribution_id: str, *, previous: str, associate: str, reason: str, actor: str, basis: int
) -> AttributionRow:
    params = {
        "id": attribution_id,
        "previous": previous,
        "associate": associate,
        "reason": reason,
        "actor": actor,
        "basis": basis,
    }
    await conn.execute(_CORRECT, params)
    # Read back in the same transaction: the audit row is visible to the next statement.
    return as_row(AttributionRow, (await conn.execute(_GET, {"id": attribution_id})).one())


_SET_AMOUNT = sa.text(
    "UPDATE attributions SET amount = :amount, version = version + 1, update_time = now() "
    "WHERE purchase = :purchase AND amount <> :amount"
)


async def set_amount(conn: AsyncConnection, purchase: str, amount: Decimal) -> None:
    """A return lowers what the purchase is worth; the credit follows it."""
    await conn.execute(_SET_AMOUNT, {"purchase": purchase, "amount": amount})


_REPOINT = sa.text("UPDATE attributions SET customer_id = :s WHERE customer_id = :d")


async def repoint_customer(conn: AsyncConnection, duplicate: str, survivor: str) -> None:
    await conn.execute(_REPOINT, {"s": survivor, "d": duplicate})


async def list_page(
    conn: AsyncConnection, scope: FigureScope, start: datetime | None, end: datetime | None, after: Position, limit: int
) -> list[AttributionRow]:
    """Newest order first."""
    where = Filter(limit)
    if scope.associate is not None:
        where.add("a.associate_id = :scope_associate", scope_associate=scope.associate)
    elif scope.store is not None:
        where.add("a.store_id = :scope_store", scope_store=scope.store)
    if start is not None:
        where.add("a.order_time >= :start", start=start)
    if end is not None:
        where.add("a.order_time < :end", end=end)
    if after is not None:
        where.add("(a.order_time, a.id) < (:after_time, :after_id)", after_time=after[0], after_id=after[1])
    sql = (
        f"SELECT {_COLUMNS}, {_CORRECTIONS} FROM attributions a{where.where} "
        "ORDER BY a.order_time DESC, a.id DESC LIMIT :limit"
    )
    return as_rows(AttributionRow, (await conn.execute(sa.text(sql), where.params)).all())
