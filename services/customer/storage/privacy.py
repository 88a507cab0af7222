"""Export and erasure of one person, and the audit trail's reads.

Both work from the catalogue: every table with a `customer_id` column holds rows about a
customer. Export includes all of them, so a table added later is exported without a
change here. What erasure does per table is domain/erasure.py's plan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from servicekit import db, outbox

from ..domain.erasure import Plan

# The personal columns of the tables whose rows erasure keeps blanked.
_BLANKED = {"interactions": "preview = '', reference = '', external_id = NULL"}


async def customer_tables(conn: AsyncConnection) -> list[str]:
    return await db.tables_with_column(conn, "customer_id")


async def export_rows(conn: AsyncConnection, customer_id: str) -> dict[str, list[Any]]:
    """Every row held about the customer, per table (timestamps and amounts as text)."""
    out: dict[str, list[Any]] = {}
    for table in await customer_tables(conn):
        stmt = sa.text(
            f"SELECT COALESCE(jsonb_agg(to_jsonb(t) - 'customer_id'), '[]') FROM \"{table}\" t WHERE customer_id = :id"
        )
        rows = (await conn.execute(stmt, {"id": customer_id})).scalar_one()
        out[table] = json.loads(rows) if isinstance(rows, str) else rows
    return out


_MERGED_INTO = sa.text(
    """
    WITH RECURSIVE merged(id) AS (
        SELECT duplicate_id FROM customer_redirects WHERE survivor_id = :id
        UNION SELECT r.duplicate_id FROM customer_redirects r JOIN merged m ON r.survivor_id = m.id
    )
    SELECT id FROM merged
    """
)
_BLANK_PROFILE = sa.text(
    """
    UPDATE customers SET given_name = '', family_name = '', preferred_name = '', locale = '',
        referral_code = '', preferences = '[]', important_dates = '[]', tags = '{}', search_text = '',
        version = version + 1, update_time = now()
    WHERE id = :id
    """
)
_RECORD = sa.text(
    """
    INSERT INTO erasures (customer_id, actor, reason) VALUES (:id, :actor, :reason)
    ON CONFLICT (customer_id) DO NOTHING
    """
)
_ERASE_TIME = sa.text("SELECT erase_time FROM erasures WHERE customer_id = :id")
# Merge records keep the duplicate's profile to be undoable; for an erased person only the
# counts stay, and the merge can no longer be undone.
_PURGE_MERGES = sa.text(
    """
    UPDATE merges SET moved = jsonb_build_object('erased', true, 'counts', jsonb_build_object(
        'contact_points', jsonb_array_length(COALESCE(moved->'contact_points', '[]')),
        'consent_changes', jsonb_array_length(COALESCE(moved->'consent_changes', '[]')),
        'notes', jsonb_array_length(COALESCE(moved->'notes', '[]')),
        'purchases', jsonb_array_length(COALESCE(moved->'purchases', '[]')),
        'interactions', jsonb_array_length(COALESCE(moved->'interactions', '[]')),
        'purchase_stats', jsonb_array_length(COALESCE(moved->'duplicate_stats', '[]')),
        'computed_tags', jsonb_array_length(COALESCE(moved->'moved_tags', '[]'))))
    WHERE (survivor_id = ANY(:ids) OR duplicate_id = ANY(:ids)) AND NOT moved ? 'erased'
    RETURNING id
    """
)


@dataclass(frozen=True)
class Erased:
    erase_time: datetime
    # Rows removed or blanked per table (and outbox events).
    counts: dict[str, int]
    # `customers/{id}` of everyone erased: her, and the ids merged into her.
    customers: list[str]


async def erase(conn: AsyncConnection, customer_id: str, plan: Plan, actor: str, reason: str) -> Erased:
    """Carry out an erasure plan, the ids merged into her included; her events leave the
    outbox (exactly hers: servicekit.outbox.forget matches whom each row is about)."""
    counts: dict[str, int] = {}
    p = {"id": customer_id}
    for table in plan.delete:
        counts[table] = (await conn.execute(sa.text(f"DELETE FROM {table} WHERE customer_id = :id"), p)).rowcount
    for table in plan.blank:
        counts[table] = (
            await conn.execute(sa.text(f"UPDATE {table} SET {_BLANKED[table]} WHERE customer_id = :id"), p)
        ).rowcount
    await conn.execute(_BLANK_PROFILE, p)
    merged_away = [r[0] for r in await conn.execute(_MERGED_INTO, p)]
    ids = [customer_id, *merged_away]
    counts["merges"] = len((await conn.execute(_PURGE_MERGES, {"ids": ids})).all())
    names = [f"customers/{i}" for i in ids]
    counts["events"] = await outbox.forget(conn, names)
    await conn.execute(_RECORD, {**p, "actor": actor, "reason": reason})
    erase_time = (await conn.execute(_ERASE_TIME, p)).scalar_one()
    return Erased(erase_time=erase_time, counts=counts, customers=names)


_AUDIT_PAGE = """
SELECT id, occur_time, actor, role, action, resource, purpose, request_id FROM audit_records
WHERE (CAST(:resource AS text) IS NULL OR resource = :resource)
  AND (CAST(:actor AS text) IS NULL OR actor = :actor)
  AND (CAST(:start AS timestamptz) IS NULL OR occur_time >= CAST(:start AS timestamptz))
  AND (CAST(:end AS timestamptz) IS NULL OR occur_time < CAST(:end AS timestamptz))
  AND (CAST(:before_time AS timestamptz) IS NULL
       OR (occur_time, id) < (CAST(:before_time AS timestamptz), CAST(:before_id AS bigint)))
ORDER BY occur_time DESC, id DESC
LIMIT :limit
"""


@dataclass(frozen=True)
class AuditRow:
    id: int
    occur_time: datetime
    actor: str
    role: str
    action: str
    resource: str
    purpose: str
    request_id: str


async def audit_page(
    conn: AsyncConnection,
    *,
    resource: str | None,
    actor: str | None,
    start: datetime | None,
    end: datetime | None,
    before: list[Any] | None,
    limit: int,
) -> list[AuditRow]:
    before_time, before_id = before if before else (None, None)
    params = {"resource": resource, "actor": actor, "start": start, "end": end,
              "before_time": before_time, "before_id": before_id, "limit": limit}  # fmt: skip
    return [AuditRow(**r._asdict()) for r in await conn.execute(sa.text(_AUDIT_PAGE), params)]
