"""A customer's rows as a whole: her export, and the stored replies her erasure withdraws.

Export works from the catalogue: every table with a `customer_id` column holds rows about
a customer, so a table added later is exported without a change here; the corrections
of her attributions are joined in (they name the attribution, not her).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

_CUSTOMER_TABLES = sa.text(
    """
    SELECT table_name::text FROM information_schema.columns
    WHERE table_schema = current_schema() AND column_name = 'customer_id'
      AND table_name IN (SELECT table_name FROM information_schema.tables
                         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE')
    ORDER BY table_name
    """
)
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
    for (table,) in (await conn.execute(_CUSTOMER_TABLES)).all():
        stmt = sa.text(
            f"SELECT COALESCE(jsonb_agg(to_jsonb(t) - 'customer_id'), '[]') FROM \"{table}\" t WHERE customer_id = :id"
        )
        out[table] = _rows((await conn.execute(stmt, {"id": customer_id})).scalar_one())
    out["attribution_corrections"] = _rows((await conn.execute(_CORRECTIONS, {"id": customer_id})).scalar_one())
    return out


# Stored replies that may name her: candidates, decided on the decoded reply (a name
# that merely contains hers is not hers).
_STORED_REPLIES = sa.text(
    "SELECT method, request_id, response FROM idempotency_keys "
    "WHERE response IS NOT NULL AND position(convert_to(:name, 'UTF8') IN response) > 0"
)
_WITHDRAW = sa.text(
    "UPDATE idempotency_keys SET response = NULL, request_hash = :tombstone WHERE method = :m AND request_id = :r"
)


@dataclass(frozen=True)
class StoredReply:
    method: str
    request_id: str
    response: bytes


async def stored_replies(conn: AsyncConnection, name: str) -> list[StoredReply]:
    rows = await conn.execute(_STORED_REPLIES, {"name": name})
    return [StoredReply(r.method, r.request_id, bytes(r.response)) for r in rows]


async def withdraw_replies(conn: AsyncConnection, keys: list[tuple[str, str]], tombstone: str) -> int:
    """Drop these stored replies and keep their keys as tombstones (`tombstone` in place of
    the request's fingerprint): a replay is refused instead of answered or run again."""
    if keys:
        await conn.execute(_WITHDRAW, [{"m": m, "r": r, "tombstone": tombstone} for m, r in keys])
    return len(keys)
