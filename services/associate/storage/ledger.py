"""The attribution ledger: one entry per purchase (the unique purchase column keeps a
redelivered or replayed purchase_recorded from crediting twice) and the audit of manual
corrections, which is only ever appended to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.task_access import FigureScope

_COLUMNS = """a.id, a.purchase, a.customer_id, a.order_id, a.channel, a.store_id, a.currency, a.amount,
a.order_time, a.associate_id, a.basis, a.customer_created, a.version, a.create_time, a.update_time"""

_CORRECTIONS = """COALESCE((SELECT json_agg(json_build_array(c.previous_associate, c.associate, c.reason, c.actor,
                                                   c.correct_time) ORDER BY c.id)
          FROM attribution_corrections c WHERE c.attribution_id = a.id), '[]') AS corrections"""


@dataclass(frozen=True)
class AttributionRow:
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
    version: int
    create_time: datetime
    update_time: datetime
    corrections: list


def _row(r) -> AttributionRow:
    return AttributionRow(**r._mapping)


_PRIMARY = sa.text("SELECT associate_id FROM assignments WHERE customer_id = :cid AND role = 1")


async def primary_associate(conn: AsyncConnection, customer_id: str) -> str:
    return (await conn.execute(_PRIMARY, {"cid": customer_id})).scalar() or ""


_INSERT = sa.text(
    f"""
    WITH a AS (
        INSERT INTO attributions (id, purchase, customer_id, order_id, channel, store_id, currency, amount,
                                  order_time, associate_id, basis, customer_created)
        VALUES (:id, :purchase, :cid, :order_id, :channel, :store, :currency, :amount, :order_time,
                :associate, :basis, :customer_created)
        ON CONFLICT (purchase) DO NOTHING
        RETURNING *
    )
    SELECT {_COLUMNS}, '[]'::json AS corrections FROM a
    """
)


async def insert(conn: AsyncConnection, **values) -> AttributionRow | None:
    """The new entry, or None when the purchase is already in the ledger."""
    r = (await conn.execute(_INSERT, values)).first()
    return _row(r) if r else None


_GET = sa.text(f"SELECT {_COLUMNS}, {_CORRECTIONS} FROM attributions a WHERE a.id = :id")
_GET_LOCKED = sa.text(f"SELECT {_COLUMNS}, {_CORRECTIONS} FROM attributions a WHERE a.id = :id FOR UPDATE OF a")


async def get(conn: AsyncConnection, attribution_id: str, *, lock: bool = False) -> AttributionRow | None:
    r = (await conn.execute(_GET_LOCKED if lock else _GET, {"id": attribution_id})).first()
    return _row(r) if r else None


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
    await conn.execute(
        _CORRECT,
        {"id": attribution_id, "previous": previous, "associate": associate, "reason": reason, "actor": actor,
         "basis": basis},
    )
    return await get(conn, attribution_id)


_SET_AMOUNT = sa.text(
    "UPDATE attributions SET amount = :amount, version = version + 1, update_time = now() "
    "WHERE purchase = :purchase AND amount <> :amount"
)


async def set_amount(conn: AsyncConnection, purchase: str, amount: Decimal) -> None:
    """A return lowers what the purchase is worth; the credit follows it."""
    await conn.execute(_SET_AMOUNT, {"purchase": purchase, "amount": amount})


async def repoint_customer(conn: AsyncConnection, duplicate: str, survivor: str) -> None:
    await conn.execute(
        sa.text("UPDATE attributions SET customer_id = :s WHERE customer_id = :d"), {"s": survivor, "d": duplicate}
    )


def _scope_sql(scope: FigureScope, params: dict, alias: str = "a") -> str:
    if scope.associate is not None:
        params["scope_associate"] = scope.associate
        return f"{alias}.associate_id = :scope_associate"
    if scope.store is not None:
        params["scope_store"] = scope.store
        return f"{alias}.store_id = :scope_store"
    return "true"


async def list_page(
    conn: AsyncConnection,
    *,
    scope: FigureScope,
    start: datetime | None,
    end: datetime | None,
    after: list | None,
    limit: int,
) -> list[AttributionRow]:
    params: dict = {"limit": limit}
    where = [_scope_sql(scope, params)]
    if start is not None:
        where.append("a.order_time >= :start")
        params["start"] = start
    if end is not None:
        where.append("a.order_time < :end")
        params["end"] = end
    if after is not None:
        where.append("(a.order_time, a.id) < (:after_time, :after_id)")
        params["after_time"], params["after_id"] = after
    sql = (
        f"SELECT {_COLUMNS}, {_CORRECTIONS} FROM attributions a WHERE {' AND '.join(where)} "
        "ORDER BY a.order_time DESC, a.id DESC LIMIT :limit"
    )
    return [_row(r) for r in await conn.execute(sa.text(sql), params)]
