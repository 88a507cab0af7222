"""The customers the service has heard of and their home store (customer_homes), written
by the assignment consumer with her placement, read by every access rule about her."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

_REMEMBER = sa.text(
    """
    INSERT INTO customer_homes (customer_id, home_store) VALUES (:c, :home)
    ON CONFLICT (customer_id) DO UPDATE SET home_store = EXCLUDED.home_store, update_time = now()
    """
)
_FORGET = sa.text("DELETE FROM customer_homes WHERE customer_id = :c")
# Known: remembered, or held / pooled (a placement made before she was remembered).
_KNOWN = sa.text(
    """
    SELECT h.home_store,
           h.customer_id IS NOT NULL
           OR EXISTS (SELECT 1 FROM assignments a WHERE a.customer_id = :c)
           OR EXISTS (SELECT 1 FROM hq_pool p WHERE p.customer_id = :c) AS known
    FROM (SELECT CAST(:c AS text) AS customer_id) c
    LEFT JOIN customer_homes h ON h.customer_id = c.customer_id
    """
)
_EVER = sa.text("SELECT EXISTS (SELECT 1 FROM assignment_history WHERE customer_id = :c)")


@dataclass(frozen=True)
class KnownCustomer:
    """Whether the service knows her now, and her home store (`stores/{id}`, '' for none)."""

    known: bool
    home_store: str


async def remember(conn: AsyncConnection, customer_id: str, home_store: str) -> None:
    """She exists, with this home store (her latest event's)."""
    await conn.execute(_REMEMBER, {"c": customer_id, "home": home_store})


async def forget(conn: AsyncConnection, customer_id: str) -> None:
    await conn.execute(_FORGET, {"c": customer_id})


async def known(conn: AsyncConnection, customer_id: str) -> KnownCustomer:
    row = (await conn.execute(_KNOWN, {"c": customer_id})).one()
    return KnownCustomer(known=bool(row.known), home_store=row.home_store or "")


async def ever_held(conn: AsyncConnection, customer_id: str) -> bool:
    """Whether her assignment history has anything (also once she is erased or merged)."""
    return bool((await conn.execute(_EVER, {"c": customer_id})).scalar())
