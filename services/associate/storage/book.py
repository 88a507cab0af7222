"""The client book: a read model of the customers' facts the book shows, kept from
customer events (never read from the customer service per row), and the book query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause

from ..domain.book import BookFilter, CustomerProfile, Order
from .statements import Position, as_rows

_UPSERT_PROFILE = sa.text(
    """
    INSERT INTO book_customers (customer_id, given_name, family_name, preferred_name, home_store, tier, tags)
    VALUES (:c, :given, :family, :preferred, :home, :tier, :tags)
    ON CONFLICT (customer_id) DO UPDATE SET
        given_name = EXCLUDED.given_name, family_name = EXCLUDED.family_name,
        preferred_name = EXCLUDED.preferred_name, home_store = EXCLUDED.home_store,
        tier = EXCLUDED.tier, tags = EXCLUDED.tags, update_time = now()
    """
).bindparams(sa.bindparam("tags", type_=ARRAY(sa.Text)))


async def upsert_profile(conn: AsyncConnection, customer_id: str, profile: CustomerProfile) -> None:
    await conn.execute(
        _UPSERT_PROFILE,
        {
            "c": customer_id,
            "given": profile.given_name,
            "family": profile.family_name,
            "preferred": profile.preferred_name,
            "home": profile.home_store,
            "tier": profile.tier,
            "tags": list(profile.tags),
        },
    )


_COUNT_PURCHASE = sa.text(
    "INSERT INTO book_purchases (purchase, customer_id) VALUES (:p, :c) ON CONFLICT DO NOTHING RETURNING purchase"
)
_ADD_PURCHASE = sa.text(
    """
    INSERT INTO book_customers AS b (customer_id, last_purchase_time, last_purchase_total, last_purchase_currency,
                                     lifetime_value, currency, order_count, last_contact_time)
    VALUES (:c, :t, :amount, :cur, :amount, :cur, 1, :t)
    ON CONFLICT (customer_id) DO UPDATE SET
        lifetime_value = CASE WHEN b.currency IN ('', :cur) THEN b.lifetime_value + :amount ELSE b.lifetime_value END,
        other_currency_orders = b.other_currency_orders + CASE WHEN b.currency IN ('', :cur) THEN 0 ELSE 1 END,
        currency = CASE WHEN b.currency = '' THEN :cur ELSE b.currency END,
        order_count = b.order_count + 1,
        last_purchase_total = CASE WHEN b.last_purchase_time IS NULL OR :t >= b.last_purchase_time
                                   THEN :amount ELSE b.last_purchase_total END,
        last_purchase_currency = CASE WHEN b.last_purchase_time IS NULL OR :t >= b.last_purchase_time
                                      THEN :cur ELSE b.last_purchase_currency END,
        last_purchase_time = GREATEST(b.last_purchase_time, :t),
        last_contact_time = GREATEST(b.last_contact_time, :t),
        update_time = now()
    """
).bindparams(sa.bindparam("amount", type_=sa.Numeric(20, 9)), sa.bindparam("t", type_=sa.DateTime(timezone=True)))


async def add_purchase(
    conn: AsyncConnection, customer_id: str, purchase: str, amount: Decimal, currency: str, when: datetime
) -> bool:
    """Count a purchase once (keyed by its resource name); False when already counted."""
    if (await conn.execute(_COUNT_PURCHASE, {"p": purchase, "c": customer_id})).first() is None:
        return False
    await conn.execute(_ADD_PURCHASE, {"c": customer_id, "t": when, "amount": amount, "cur": currency})
    return True


_CONTACT = sa.text(
    """
    INSERT INTO book_customers AS b (customer_id, last_contact_time) VALUES (:c, :t)
    ON CONFLICT (customer_id) DO UPDATE SET last_contact_time = GREATEST(b.last_contact_time, :t)
    """
).bindparams(sa.bindparam("t", type_=sa.DateTime(timezone=True)))


async def touch(conn: AsyncConnection, customer_id: str, when: datetime) -> None:
    await conn.execute(_CONTACT, {"c": customer_id, "t": when})


_MERGE = sa.text(
    """
    WITH dup AS (DELETE FROM book_customers WHERE customer_id = :dup RETURNING *),
         moved AS (UPDATE book_purchases SET customer_id = :survivor WHERE customer_id = :dup)
    UPDATE book_customers b SET
        lifetime_value = b.lifetime_value + CASE WHEN dup.currency IN ('', b.currency) THEN dup.lifetime_value ELSE 0 END,
        other_currency_orders = b.other_currency_orders + dup.other_currency_orders
            + CASE WHEN dup.currency IN ('', b.currency) THEN 0 ELSE dup.order_count END,
        currency = CASE WHEN b.currency = '' THEN dup.currency ELSE b.currency END,
        order_count = b.order_count + dup.order_count,
        last_purchase_total = CASE WHEN dup.last_purchase_time > b.last_purchase_time OR b.last_purchase_time IS NULL
                                   THEN dup.last_purchase_total ELSE b.last_purchase_total END,
        last_purchase_currency = CASE WHEN dup.last_purchase_time > b.last_purchase_time OR b.last_purchase_time IS NULL
                                      THEN dup.last_purchase_currency ELSE b.last_purchase_currency END,
        last_purchase_time = GREATEST(b.last_purchase_time, dup.last_purchase_time),
        last_contact_time = GREATEST(b.last_contact_time, dup.last_contact_time),
        update_time = now()
    FROM dup WHERE b.customer_id = :survivor
    """
)


async def merge(conn: AsyncConnection, survivor: str, duplicate: str) -> None:
    await conn.execute(_MERGE, {"survivor": survivor, "dup": duplicate})


_FORGET = sa.text(
    "WITH p AS (DELETE FROM book_purchases WHERE customer_id = :c) DELETE FROM book_customers WHERE customer_id = :c"
)


async def forget(conn: AsyncConnection, customer_id: str) -> None:
    """Erasure: nothing of her stays in the read model."""
    await conn.execute(_FORGET, {"c": customer_id})


_HOME = sa.text("SELECT home_store FROM book_customers WHERE customer_id = :c")


async def home_store(conn: AsyncConnection, customer_id: str) -> str:
    return str((await conn.execute(_HOME, {"c": customer_id})).scalar_one_or_none() or "")


# The sort key is one ascending float: descending orders negate it, customers without a
# value sort last ('Infinity'), so the keyset is a plain row comparison.
_SORT = {
    "last_contact_time": "extract(epoch FROM b.last_contact_time)",
    "lifetime_value": "CAST(b.lifetime_value AS double precision)",
    "next_task_due_time": "extract(epoch FROM n.due)",
}
# The soonest open task per customer of the book, in one pass over the tasks index
# (only when sorting by it; otherwise only the page's rows look their task up).
_NEXT_DUE = """
LEFT JOIN (SELECT k.customer_id, k.associate_id, min(k.due_time) AS due FROM tasks k
           WHERE k.status IN (1, 3) AND {holders} GROUP BY k.customer_id, k.associate_id) n
       ON n.customer_id = a.customer_id AND n.associate_id = a.associate_id
"""

# The page is chosen over the book's narrow rows first; its at most page_size + 1 rows
# then pick up their profile and next task.
_BOOK = """
WITH page AS (
    SELECT a.customer_id, a.associate_id, a.role,
           COALESCE({sign}{sort}, 'Infinity'::double precision) AS sort_key
    FROM assignments a
    LEFT JOIN book_customers b ON b.customer_id = a.customer_id
    {next_due}
    WHERE {where}
    ORDER BY 4, 1, 2
    LIMIT :limit
)
SELECT p.customer_id, p.associate_id, p.role, p.sort_key,
       b.given_name, b.family_name, b.preferred_name, b.home_store, b.tier, b.tags,
       b.last_purchase_time, b.last_purchase_total, b.last_purchase_currency, b.lifetime_value, b.currency,
       b.order_count, b.other_currency_orders, b.last_contact_time, b.upcoming_appointment_time,
       t.id AS next_task_id, t.due_time AS next_task_due_time
FROM page p
LEFT JOIN book_customers b ON b.customer_id = p.customer_id
LEFT JOIN LATERAL (
    SELECT k.id, k.due_time FROM tasks k
    WHERE k.customer_id = p.customer_id AND k.associate_id = p.associate_id AND k.status IN (1, 3)
    ORDER BY k.due_time, k.id LIMIT 1
) t ON true
ORDER BY p.sort_key, p.customer_id, p.associate_id
"""


@dataclass(frozen=True)
class BookRow:
    """One customer of a book, with what the read model knows of her (None: nothing yet)."""

    customer_id: str
    associate_id: str
    role: int
    sort_key: float
    given_name: str | None
    family_name: str | None
    preferred_name: str | None
    home_store: str | None
    tier: int | None
    tags: list[str] | None
    last_purchase_time: datetime | None
    last_purchase_total: Decimal | None
    last_purchase_currency: str | None
    lifetime_value: Decimal | None
    currency: str | None
    order_count: int | None
    other_currency_orders: int | None
    last_contact_time: datetime | None
    upcoming_appointment_time: datetime | None
    next_task_id: str | None
    next_task_due_time: datetime | None


@lru_cache(maxsize=256)
def _statement(
    by_associate: bool, tier: bool, role: bool, tags: bool, after: bool, key: str, descending: bool
) -> TextClause:
    """One compiled statement per query shape (SQLAlchemy and the server-side prepared
    statement are both reused across calls)."""
    holders = (
        "a.associate_id = :associate"
        if by_associate
        else ("a.associate_id IN (SELECT id FROM associates WHERE store_id = :store)")
    )
    where = [holders]
    if tier:
        where.append("b.tier = :tier")
    if role:
        where.append("a.role = :role")
    if tags:
        where.append("b.tags @> CAST(:tags AS text[])")
    sign = "-" if descending else ""
    sort = _SORT[key]
    if after:
        where.append(
            f"(COALESCE({sign}{sort}, 'Infinity'::double precision), a.customer_id, a.associate_id) "
            "> (CAST(:k AS double precision), :c, :a)"
        )
    next_due = (
        _NEXT_DUE.format(holders=holders.replace("a.associate_id", "k.associate_id"))
        if key == "next_task_due_time"
        else ""
    )
    return sa.text(_BOOK.format(sign=sign, sort=sort, next_due=next_due, where=" AND ".join(where)))


async def page(
    conn: AsyncConnection,
    *,
    associate: str | None,
    store: str | None,
    flt: BookFilter,
    order: Order,
    after: Position,
    limit: int,
) -> list[BookRow]:
    params: dict[str, object] = {"limit": limit}
    if associate is not None:
        params["associate"] = associate
    else:
        params["store"] = store
    if flt.tier is not None:
        params["tier"] = flt.tier
    if flt.role is not None:
        params["role"] = flt.role
    if flt.tags:
        params["tags"] = list(flt.tags)
    if after is not None:
        params["k"], params["c"], params["a"] = after
    stmt = _statement(
        associate is not None,
        flt.tier is not None,
        flt.role is not None,
        bool(flt.tags),
        after is not None,
        order.key,
        order.descending,
    )
    return as_rows(BookRow, (await conn.execute(stmt, params)).all())
