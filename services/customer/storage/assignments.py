"""The customer service's copy of who holds each customer (for associate scoping); what an
assignment event changes is domain/assignments.py's decision."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

_HOLD_IF_FREE = sa.text(
    "INSERT INTO customer_assignments (customer_id, associate_id, role) VALUES (:c, :a, :role) ON CONFLICT DO NOTHING"
)
_HOLD = sa.text(
    """
    INSERT INTO customer_assignments (customer_id, associate_id, role) VALUES (:c, :a, :role)
    ON CONFLICT (customer_id, associate_id) DO UPDATE SET role = EXCLUDED.role, update_time = now()
    """
)
_RELEASE = sa.text(
    """
    DELETE FROM customer_assignments
    WHERE customer_id = :c AND (CAST(:a AS text) IS NULL OR associate_id = :a)
      AND (CAST(:role AS smallint) IS NULL OR role = :role)
    """
)


async def hold_provisionally(conn: AsyncConnection, customer_id: str, associate_id: str, role: int) -> None:
    """The associate holds the customer unless she already does."""
    await conn.execute(_HOLD_IF_FREE, {"c": customer_id, "a": associate_id, "role": role})


async def hold(conn: AsyncConnection, customer_id: str, associate_id: str, role: int) -> None:
    """The associate holds the customer in `role`, whatever role she held her in before."""
    await conn.execute(_HOLD, {"c": customer_id, "a": associate_id, "role": role})


async def release(conn: AsyncConnection, customer_id: str, associate_id: str | None, role: int | None) -> None:
    """End the customer's holdings by `associate_id` (None: anyone) in `role` (None: any role)."""
    await conn.execute(_RELEASE, {"c": customer_id, "a": associate_id, "role": role})
