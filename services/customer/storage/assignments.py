"""The customer service's copy of who holds each customer (for associate scoping)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

PRIMARY, SECONDARY = 1, 2

_PROVISIONAL = sa.text(
    "INSERT INTO customer_assignments (customer_id, associate_id, role) VALUES (:c, :a, 1) ON CONFLICT DO NOTHING"
)
# A new primary replaces the old one (and any secondary row of the same associate).
_DROP_FOR_PRIMARY = sa.text(
    "DELETE FROM customer_assignments WHERE customer_id = :c AND (role = 1 OR associate_id = :a)"
)
_ADD = sa.text(
    """
    INSERT INTO customer_assignments (customer_id, associate_id, role) VALUES (:c, :a, :role)
    ON CONFLICT (customer_id, associate_id) DO UPDATE SET role = EXCLUDED.role, update_time = now()
    """
)
_DROP_ONE = sa.text("DELETE FROM customer_assignments WHERE customer_id = :c AND associate_id = :a AND role = :role")
_FORGET = sa.text("DELETE FROM customer_assignments WHERE customer_id = :c")


async def hold_provisionally(conn: AsyncConnection, customer_id: str, associate_id: str) -> None:
    """The associate who creates a customer holds her at once; the associate service's
    referral rule confirms it (or names someone else) with its event."""
    await conn.execute(_PROVISIONAL, {"c": customer_id, "a": associate_id})


async def apply_change(conn: AsyncConnection, customer_id: str, role: int, previous: str, associate: str) -> None:
    """One assignment_changed event. A change to nobody only ends the named previous
    holding, so a provisional holder keeps her customer until someone is named."""
    if associate:
        if role == PRIMARY:
            await conn.execute(_DROP_FOR_PRIMARY, {"c": customer_id, "a": associate})
        await conn.execute(_ADD, {"c": customer_id, "a": associate, "role": role})
        if role == SECONDARY and previous and previous != associate:
            await conn.execute(_DROP_ONE, {"c": customer_id, "a": previous, "role": SECONDARY})
    elif previous:
        await conn.execute(_DROP_ONE, {"c": customer_id, "a": previous, "role": role})


async def forget(conn: AsyncConnection, customer_id: str) -> None:
    await conn.execute(_FORGET, {"c": customer_id})
