"""Purchases, their lines and returns. A purchase is read with its lines and returns in
one query; pages and timelines load all their purchases in that same one query."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.purchases import BoughtLine, NewPurchase, NewReturn

_SELECT = """
SELECT p.id, p.customer_id, p.channel, p.order_id, p.store, p.assisting_associate, p.currency,
       p.gross::text AS gross, p.returned::text AS returned, p.order_time, p.create_time, p.request_fingerprint,
       (SELECT json_agg(json_build_array(l.line_id, l.sku, l.product_name, l.category, l.quantity,
                                         l.unit_price::text, l.returned_quantity) ORDER BY l.position)
        FROM purchase_lines l WHERE l.purchase_id = p.id) AS lines,
       COALESCE((SELECT json_agg(json_build_array(
                     r.return_id, r.amount::text, r.return_time,
                     (SELECT json_agg(json_build_array(rl.line_id, rl.quantity) ORDER BY rl.line_id)
                      FROM return_lines rl WHERE rl.purchase_id = r.purchase_id AND rl.return_id = r.return_id))
                   ORDER BY r.return_time, r.return_id)
                 FROM purchase_returns r WHERE r.purchase_id = p.id), '[]') AS returns
FROM purchases p
"""

_GET_MANY = sa.text(_SELECT + " WHERE p.id = ANY(:ids)")
_BY_ORDER = sa.text(_SELECT + " WHERE p.channel = :channel AND p.order_id = :order_id")
_PAGE = sa.text(
    _SELECT
    + """ WHERE p.customer_id = :cid
      AND (CAST(:before_time AS timestamptz) IS NULL
           OR (p.order_time, p.id) < (CAST(:before_time AS timestamptz), :before_id))
    ORDER BY p.order_time DESC, p.id DESC LIMIT :limit"""
)


@dataclass(frozen=True)
class PurchaseRow:
    id: str
    customer_id: str
    channel: int
    order_id: str
    store: str
    assisting_associate: str
    currency: str
    gross: str
    returned: str
    order_time: datetime
    create_time: datetime
    # [line id, sku, product name, category, quantity, unit price (text), returned quantity]
    lines: list[list[Any]]
    # [return id, amount (text), return time, [[line id, quantity]]]
    returns: list[list[Any]]
    # The digest of the request that recorded it (domain/replays); None before they were kept.
    request_fingerprint: str | None = None


def _row(r: sa.Row[Any]) -> PurchaseRow:
    data = r._asdict()
    for key in ("lines", "returns"):
        if isinstance(data[key], str):
            data[key] = json.loads(data[key])
    return PurchaseRow(**data)


async def get_many(conn: AsyncConnection, ids: list[str]) -> dict[str, PurchaseRow]:
    if not ids:
        return {}
    return {r.id: _row(r) for r in (await conn.execute(_GET_MANY, {"ids": ids})).all()}


async def get(conn: AsyncConnection, purchase_id: str) -> PurchaseRow | None:
    return (await get_many(conn, [purchase_id])).get(purchase_id)


async def by_order(conn: AsyncConnection, channel: int, order_id: str) -> PurchaseRow | None:
    row = (await conn.execute(_BY_ORDER, {"channel": channel, "order_id": order_id})).first()
    return _row(row) if row else None


async def page(conn: AsyncConnection, customer_id: str, before: list[Any] | None, limit: int) -> list[PurchaseRow]:
    before_time, before_id = before if before else (None, None)
    params = {"cid": customer_id, "before_time": before_time, "before_id": before_id, "limit": limit}
    return [_row(r) for r in (await conn.execute(_PAGE, params)).all()]


_INSERT = sa.text(
    """
    INSERT INTO purchases (id, customer_id, channel, order_id, store, assisting_associate, currency, gross, order_time,
                           request_fingerprint)
    VALUES (:id, :cid, :channel, :order_id, :store, :associate, :currency, :gross, :order_time, :fingerprint)
    ON CONFLICT ON CONSTRAINT purchases_order_unique DO NOTHING
    RETURNING id
    """
)
_INSERT_LINES = sa.text(
    """
    INSERT INTO purchase_lines (purchase_id, customer_id, line_id, position, sku, product_name, category,
                                quantity, unit_price)
    SELECT :pid, :cid, t.line_id, t.position, t.sku, t.product_name, t.category, t.quantity, t.unit_price
    FROM unnest(CAST(:line_ids AS text[]), CAST(:positions AS integer[]), CAST(:skus AS text[]),
                CAST(:names AS text[]), CAST(:categories AS text[]), CAST(:quantities AS integer[]),
                CAST(:prices AS numeric[]))
         AS t(line_id, position, sku, product_name, category, quantity, unit_price)
    """
)


async def insert(conn: AsyncConnection, purchase_id: str, customer_id: str, new: NewPurchase, fingerprint: str) -> bool:
    """False when the order was already recorded for its channel (the constraint decides)."""
    inserted = (
        await conn.execute(
            _INSERT,
            {
                "id": purchase_id,
                "cid": customer_id,
                "channel": new.channel,
                "order_id": new.order_id,
                "store": new.store,
                "associate": new.assisting_associate,
                "currency": new.currency,
                "gross": new.total,
                "order_time": new.order_time,
                "fingerprint": fingerprint,
            },
        )
    ).first()
    if inserted is None:
        return False
    await conn.execute(
        _INSERT_LINES,
        {
            "pid": purchase_id,
            "cid": customer_id,
            "line_ids": [line.line_id for line in new.lines],
            "positions": list(range(len(new.lines))),
            "skus": [line.sku for line in new.lines],
            "names": [line.product_name for line in new.lines],
            "categories": [line.category for line in new.lines],
            "quantities": [line.quantity for line in new.lines],
            "prices": [line.unit_price for line in new.lines],
        },
    )
    return True


_LOCK = sa.text("SELECT customer_id, currency, order_time FROM purchases WHERE id = :id FOR UPDATE")
_LINES_OF = sa.text(
    "SELECT line_id, category, quantity, returned_quantity, unit_price FROM purchase_lines WHERE purchase_id = :id"
)


@dataclass(frozen=True)
class LockedPurchase:
    customer_id: str
    currency: str
    order_time: datetime
    lines: dict[str, BoughtLine]


async def lock(conn: AsyncConnection, purchase_id: str) -> LockedPurchase | None:
    """The purchase with its lines, locked until the transaction ends, so two returns of
    the same goods cannot both pass the bound check."""
    head = (await conn.execute(_LOCK, {"id": purchase_id})).first()
    if head is None:
        return None
    lines = {
        r.line_id: BoughtLine(r.category, r.quantity, r.returned_quantity, Decimal(r.unit_price))
        for r in await conn.execute(_LINES_OF, {"id": purchase_id})
    }
    return LockedPurchase(head.customer_id, head.currency, head.order_time, lines)


_INSERT_RETURN = sa.text(
    """
    INSERT INTO purchase_returns (purchase_id, customer_id, return_id, amount, return_time)
    VALUES (:pid, :cid, :rid, :amount, :time)
    ON CONFLICT DO NOTHING
    RETURNING return_id
    """
)
_INSERT_RETURN_LINES = sa.text(
    """
    INSERT INTO return_lines (purchase_id, customer_id, return_id, line_id, quantity)
    SELECT :pid, :cid, :rid, t.line_id, t.quantity
    FROM unnest(CAST(:line_ids AS text[]), CAST(:quantities AS integer[])) AS t(line_id, quantity)
    """
)
_APPLY_RETURN = sa.text(
    """
    UPDATE purchase_lines l SET returned_quantity = l.returned_quantity + t.quantity
    FROM unnest(CAST(:line_ids AS text[]), CAST(:quantities AS integer[])) AS t(line_id, quantity)
    WHERE l.purchase_id = :pid AND l.line_id = t.line_id
    """
)
_RETURNED = sa.text("UPDATE purchases SET returned = returned + :amount WHERE id = :pid")


async def insert_return(
    conn: AsyncConnection, purchase_id: str, customer_id: str, new: NewReturn, amount: Decimal
) -> bool:
    """False when the return id was already recorded for this purchase. The lines'
    CHECK constraint is the last word on quantities (the caller holds the purchase lock)."""
    params = {"pid": purchase_id, "cid": customer_id, "rid": new.return_id}
    if (await conn.execute(_INSERT_RETURN, {**params, "amount": amount, "time": new.return_time})).first() is None:
        return False
    quantities = {"line_ids": list(new.quantities), "quantities": list(new.quantities.values())}
    await conn.execute(_INSERT_RETURN_LINES, {**params, **quantities})
    await conn.execute(_APPLY_RETURN, {"pid": purchase_id, **quantities})
    await conn.execute(_RETURNED, {"pid": purchase_id, "amount": amount})
    return True
