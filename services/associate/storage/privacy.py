"""A customer's rows as a whole: her export, and the stored replies her erasure withdraws.

Export works from the catalogue: every table with a `customer_id` column holds rows about
a customer, so a table added later is exported without a change here; the corrections
of her attributions are joined in (they name the attribution, not her).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from servicekit import db

_CORRECTIONS = sa.text(
    """
    SELECT COALESCE(jsonb_agg(to_jsonb(c) ORDER BY c.id), '[]') FROM attribution_corrections c
    JOIN attributions a ON a.id = c.attribution_id WHERE a.customer_id = :id
    """
)


def _rows(value: Any) -> list[Any]:
    return list(json.loads(value) if isinstance(value, str) else value)


async def export_rows(conn: AsyncConnection, customer_id: str) -> dict[str, list[Any]]:
    """Every row held about the customer, per table (timestamps and amounts as text)."""
    out: dict[str, list[Any]] = {}
    for table in await db.tables_with_column(conn, "customer_id"):
        stmt = sa.text(
            f"SELECT COALESCE(jsonb_agg(to_jsonb(t) - 'customer_id'), '[]') FROM \"{table}\" t WHERE customer_id = :id"
        )
        out[table] = _rows((await conn.execute(stmt, {"id": customer_id})).scalar_one())
    out["attribution_corrections"] = _rows((await conn.execute(_CORRECTIONS, {"id": customer_id})).scalar_one())
    return out
