"""Per-customer purchase figures (per currency) and stored computed tags, updated in the
transaction of each purchase and return, and added up when a merge moves a customer's
figures to another."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.computed_tags import CurrencyStats, Tag

_COLUMNS = (
    "(customer_id, currency, lifetime_value, order_count, first_purchase_time, last_purchase_time, category_spend)"
)
# Figures added to a customer's: amounts and counts add up, the first and last purchase
# widen, category_spend merges key by key. The one definition of adding figures, for a
# purchase or a return (`apply`) and for a merge (`absorb`).
_ADD = """
    ON CONFLICT (customer_id, currency) DO UPDATE SET
        lifetime_value = s.lifetime_value + excluded.lifetime_value,
        order_count = s.order_count + excluded.order_count,
        first_purchase_time = LEAST(s.first_purchase_time, excluded.first_purchase_time),
        last_purchase_time = GREATEST(s.last_purchase_time, excluded.last_purchase_time),
        category_spend = (
            SELECT COALESCE(jsonb_object_agg(k, v), '{}')
            FROM (SELECT key AS k, sum(value::numeric) AS v
                  FROM (SELECT * FROM jsonb_each_text(s.category_spend)
                        UNION ALL SELECT * FROM jsonb_each_text(excluded.category_spend)) e
                  GROUP BY key) m)
"""
_APPLY = sa.text(
    f"INSERT INTO customer_purchase_stats AS s {_COLUMNS}"
    " VALUES (:cid, :currency, :amount, :orders, :time, :time, CAST(:spend AS jsonb))" + _ADD
)
_ABSORB = sa.text(
    f"INSERT INTO customer_purchase_stats AS s {_COLUMNS}"
    " SELECT :s, currency, lifetime_value, order_count, first_purchase_time, last_purchase_time, category_spend"
    " FROM customer_purchase_stats WHERE customer_id = :d" + _ADD
)
_DROP_OF = sa.text("DELETE FROM customer_purchase_stats WHERE customer_id = :d")


async def apply(
    conn: AsyncConnection,
    customer_id: str,
    currency: str,
    amount: Decimal,
    orders: int,
    time: datetime,
    spend: dict[str, Decimal],
) -> None:
    """Add a purchase (orders=1, positive amounts) or a return (orders=0, negative)."""
    await conn.execute(
        _APPLY,
        {
            "cid": customer_id,
            "currency": currency,
            "amount": amount,
            "orders": orders,
            "time": time,
            "spend": json.dumps({k: str(v) for k, v in spend.items()}),
        },
    )


async def absorb(conn: AsyncConnection, survivor: str, duplicate: str) -> None:
    """Add the duplicate's figures to the survivor's and drop them from the duplicate."""
    await conn.execute(_ABSORB, {"s": survivor, "d": duplicate})
    await conn.execute(_DROP_OF, {"d": duplicate})


# Amounts leave the database as text: json numbers would become floats.
STATS_JSON = """
COALESCE((SELECT json_agg(json_build_array(
                     s.currency, s.lifetime_value::text, s.order_count, s.first_purchase_time,
                     s.last_purchase_time,
                     (SELECT COALESCE(json_object_agg(key, value), '{}') FROM jsonb_each_text(s.category_spend)))
                 ORDER BY s.currency)
          FROM customer_purchase_stats s WHERE s.customer_id = c.id), '[]')
"""
TAGS_JSON = """
COALESCE((SELECT json_agg(json_build_array(t.tag, t.reason, t.since) ORDER BY t.tag)
          FROM customer_computed_tags t WHERE t.customer_id = c.id), '[]')
"""

_OF = sa.text(f"SELECT {STATS_JSON} AS stats FROM (SELECT CAST(:cid AS text) AS id) c")


def parse(items: list[Any] | str) -> list[CurrencyStats]:
    """Figures as STATS_JSON renders them."""
    rows: list[Any] = json.loads(items) if isinstance(items, str) else items
    return [
        CurrencyStats(
            currency=currency.strip(),
            lifetime_value=Decimal(ltv),
            order_count=orders,
            first_purchase=None if first is None else parse_time(first),
            last_purchase=None if last is None else parse_time(last),
            category_spend={k: Decimal(v) for k, v in spend.items()},
        )
        for currency, ltv, orders, first, last, spend in rows
    ]


def parse_time(value: datetime | str) -> datetime:
    """A time as json_agg renders it (ISO text), or as the driver returns it."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


async def of(conn: AsyncConnection, customer_id: str) -> list[CurrencyStats]:
    return parse((await conn.execute(_OF, {"cid": customer_id})).scalar_one())


_DROP_TAGS = sa.text(
    "DELETE FROM customer_computed_tags WHERE customer_id = :cid AND NOT (tag = ANY(CAST(:tags AS text[])))"
)
_PUT_TAGS = sa.text(
    """
    INSERT INTO customer_computed_tags (customer_id, tag, reason)
    SELECT :cid, t.tag, t.reason FROM unnest(CAST(:tags AS text[]), CAST(:reasons AS text[])) AS t(tag, reason)
    ON CONFLICT (customer_id, tag) DO UPDATE SET reason = excluded.reason
    """
)


async def replace_tags(conn: AsyncConnection, customer_id: str, tags: list[Tag]) -> None:
    """Store the tags that apply now; a tag that still applies keeps its `since`."""
    names = [t.tag for t in tags]
    await conn.execute(_DROP_TAGS, {"cid": customer_id, "tags": names})
    if tags:
        await conn.execute(_PUT_TAGS, {"cid": customer_id, "tags": names, "reasons": [t.reason for t in tags]})


_DROP_STATS = sa.text("DELETE FROM customer_purchase_stats WHERE customer_id = :cid")
_REBUILD = sa.text(
    """
    INSERT INTO customer_purchase_stats
        (customer_id, currency, lifetime_value, order_count, first_purchase_time, last_purchase_time, category_spend)
    SELECT p.customer_id, p.currency, sum(p.gross - p.returned), count(*), min(p.order_time), max(p.order_time),
           (SELECT COALESCE(jsonb_object_agg(c.category, c.spend), '{}')
            FROM (SELECT l.category, sum(l.unit_price * (l.quantity - l.returned_quantity)) AS spend
                  FROM purchase_lines l JOIN purchases q ON q.id = l.purchase_id
                  WHERE q.customer_id = p.customer_id AND q.currency = p.currency
                  GROUP BY l.category) c)
    FROM purchases p WHERE p.customer_id = :cid
    GROUP BY p.customer_id, p.currency
    """
)


async def rebuild(conn: AsyncConnection, customer_id: str) -> None:
    """Recompute a customer's figures from her purchases. Not for the purchase path (which
    updates them incrementally) but for the rare operations that move purchases between
    customers wholesale, such as a merge or its undoing."""
    await conn.execute(_DROP_STATS, {"cid": customer_id})
    await conn.execute(_REBUILD, {"cid": customer_id})
