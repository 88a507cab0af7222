"""Merge and unmerge: moving every row of one customer to another and back, the audit
record with what moved, redirects from merged-away ids, duplicate candidates.

Each table holding a customer's rows is moved by one statement; what moved is recorded
by key (ids, contact point values) so the undo moves exactly those rows back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.merging import Pair
from . import customers, stats
from .customers import CustomerRow

_LOCK = sa.text("SELECT id FROM customers WHERE id = ANY(:ids) ORDER BY id FOR UPDATE")
_ROW_JSON = sa.text("SELECT to_jsonb(c) FROM customers c WHERE id = :id")
_CONTACTS_JSON = sa.text(
    "SELECT COALESCE(jsonb_agg(jsonb_build_object('kind', kind, 'value', value, 'is_primary', is_primary,"
    " 'position', position)), '[]') FROM contact_points WHERE customer_id = :d"
)
_MOVE_CONTACTS = sa.text(
    """
    UPDATE contact_points p SET
        customer_id = :s,
        is_primary = p.is_primary AND NOT EXISTS (
            SELECT 1 FROM contact_points q WHERE q.customer_id = :s AND q.kind = p.kind AND q.is_primary),
        position = p.position + (SELECT COALESCE(max(q.position), -1) + 1 FROM contact_points q WHERE q.customer_id = :s)
    WHERE p.customer_id = :d
    """
)
_MOVE_BY_ID = {
    table: sa.text(f"UPDATE {table} SET customer_id = :s WHERE customer_id = :d RETURNING id")
    for table in ("consent_changes", "notes", "purchases", "interactions")
}
_PURCHASE_CHILDREN = ("purchase_lines", "purchase_returns", "return_lines")
# An external id is unique per customer: a touchpoint of the duplicate recorded under an
# id the survivor also has keeps its row but moves without the id (kept for the undo).
_SET_ASIDE_EXTERNAL_IDS = sa.text(
    """
    UPDATE interactions d SET external_id = NULL
    FROM interactions s
    WHERE d.customer_id = :d AND s.customer_id = :s
      AND s.kind = d.kind AND s.channel = d.channel AND s.external_id = d.external_id
    RETURNING d.id, s.external_id
    """
)
_RESTORE_EXTERNAL_IDS = sa.text(
    """
    UPDATE interactions i SET external_id = x.value
    FROM jsonb_each_text(CAST(:ids AS jsonb)) AS x(key, value)
    WHERE i.customer_id = :d AND i.id = x.key
    """
)
_STATS_JSON = sa.text(
    "SELECT COALESCE(jsonb_agg(to_jsonb(s)), '[]') FROM customer_purchase_stats s WHERE customer_id = :id"
)
_TAGS_JSON = sa.text(
    "SELECT COALESCE(jsonb_agg(to_jsonb(t)), '[]') FROM customer_computed_tags t WHERE customer_id = :d"
)
_MOVE_TAGS = sa.text(
    """
    UPDATE customer_computed_tags t SET customer_id = :s
    WHERE t.customer_id = :d
      AND NOT EXISTS (SELECT 1 FROM customer_computed_tags u WHERE u.customer_id = :s AND u.tag = t.tag)
    RETURNING tag
    """
)
_DROP_TAGS = sa.text("DELETE FROM customer_computed_tags WHERE customer_id = :d")
_DELETE_CUSTOMER = sa.text("DELETE FROM customers WHERE id = :d")
_RECORD = sa.text(
    """
    INSERT INTO merges (id, survivor_id, duplicate_id, actor, moved)
    VALUES (:id, :s, :d, :actor, CAST(:moved AS jsonb))
    RETURNING id, survivor_id, duplicate_id, actor, moved, create_time, undo_time, undo_actor
    """
)
_REDIRECT = sa.text("INSERT INTO customer_redirects (duplicate_id, survivor_id, merge_id) VALUES (:d, :s, :m)")
_RESOLVE = sa.text(
    """
    WITH RECURSIVE chain(id, depth) AS (
        SELECT survivor_id, 1 FROM customer_redirects WHERE duplicate_id = :id
        UNION ALL
        SELECT r.survivor_id, c.depth + 1 FROM customer_redirects r JOIN chain c ON r.duplicate_id = c.id
        WHERE c.depth < 50
    )
    SELECT id FROM chain ORDER BY depth DESC LIMIT 1
    """
)


@dataclass(frozen=True)
class MergeRow:
    id: str
    survivor_id: str
    duplicate_id: str
    actor: str
    # What moved, by key, for the undo (see `move`); {"erased": true, "counts": …} once
    # either customer was erased.
    moved: dict[str, Any]
    create_time: datetime
    undo_time: datetime | None
    undo_actor: str

    @property
    def erased(self) -> bool:
        return bool(self.moved.get("erased"))

    def counts(self) -> dict[str, int]:
        """How many rows of each kind moved."""
        if self.erased:
            return dict(self.moved["counts"])
        return {
            "contact_points": len(self.moved["contact_points"]),
            "consent_changes": len(self.moved["consent_changes"]),
            "notes": len(self.moved["notes"]),
            "purchases": len(self.moved["purchases"]),
            "interactions": len(self.moved["interactions"]),
            "purchase_stats": len(self.moved["duplicate_stats"]),
            "computed_tags": len(self.moved["moved_tags"]),
        }


def _merge_row(r: sa.Row[Any]) -> MergeRow:
    data = r._asdict()
    if isinstance(data["moved"], str):
        data["moved"] = json.loads(data["moved"])
    return MergeRow(**data)


async def lock(conn: AsyncConnection, ids: list[str]) -> set[str]:
    """Lock the customers (in id order, so two merges never deadlock); returns those found."""
    return {r.id for r in await conn.execute(_LOCK, {"ids": ids})}


async def resolve(conn: AsyncConnection, customer_id: str) -> str | None:
    """The customer a merged-away id now resolves to, following later merges."""
    return (await conn.execute(_RESOLVE, {"id": customer_id})).scalar_one_or_none()


async def get_current(conn: AsyncConnection, customer_id: str) -> CustomerRow | None:
    """The customer, or the survivor a merged-away id now resolves to (None if neither)."""
    row = await customers.get(conn, customer_id)
    if row is None:
        survivor = await resolve(conn, customer_id)
        row = await customers.get(conn, survivor) if survivor else None
    return row


async def move(conn: AsyncConnection, survivor: str, duplicate: str) -> dict[str, Any]:
    """Move every row of `duplicate` to `survivor`; returns what moved, for the undo."""
    p = {"s": survivor, "d": duplicate}
    moved: dict[str, Any] = {
        "customer": (await conn.execute(_ROW_JSON, {"id": duplicate})).scalar_one(),
        "contact_points": (await conn.execute(_CONTACTS_JSON, p)).scalar_one(),
        "survivor_stats": (await conn.execute(_STATS_JSON, {"id": survivor})).scalar_one(),
        "duplicate_stats": (await conn.execute(_STATS_JSON, {"id": duplicate})).scalar_one(),
        "duplicate_tags": (await conn.execute(_TAGS_JSON, p)).scalar_one(),
    }
    await conn.execute(_MOVE_CONTACTS, p)
    moved["interaction_external_ids"] = {r.id: r.external_id for r in await conn.execute(_SET_ASIDE_EXTERNAL_IDS, p)}
    for table, stmt in _MOVE_BY_ID.items():
        moved[table] = [r.id for r in await conn.execute(stmt, p)]
    for table in _PURCHASE_CHILDREN:
        await conn.execute(sa.text(f"UPDATE {table} SET customer_id = :s WHERE customer_id = :d"), p)
    await stats.absorb(conn, survivor, duplicate)
    moved["moved_tags"] = [r.tag for r in await conn.execute(_MOVE_TAGS, p)]
    await conn.execute(_DROP_TAGS, p)
    await conn.execute(_DELETE_CUSTOMER, p)
    return moved


async def record(
    conn: AsyncConnection, merge_id: str, survivor: str, duplicate: str, actor: str, moved: dict[str, Any]
) -> MergeRow:
    row = (
        await conn.execute(
            _RECORD,
            {"id": merge_id, "s": survivor, "d": duplicate, "actor": actor, "moved": json.dumps(moved, default=str)},
        )
    ).one()
    await conn.execute(_REDIRECT, {"d": duplicate, "s": survivor, "m": merge_id})
    return _merge_row(row)


_GET = sa.text(
    "SELECT id, survivor_id, duplicate_id, actor, moved, create_time, undo_time, undo_actor FROM merges WHERE id = :id"
)
_GET_LOCKED = sa.text(
    "SELECT id, survivor_id, duplicate_id, actor, moved, create_time, undo_time, undo_actor FROM merges"
    " WHERE id = :id FOR UPDATE"
)
_LATER = sa.text(
    """
    SELECT l.id FROM merges m JOIN merges l ON l.seq > m.seq
    WHERE m.id = :id AND l.undo_time IS NULL
      AND (l.survivor_id IN (m.survivor_id, m.duplicate_id) OR l.duplicate_id IN (m.survivor_id, m.duplicate_id))
    ORDER BY l.seq LIMIT 1
    """
)


async def get(conn: AsyncConnection, merge_id: str, *, lock: bool = False) -> MergeRow | None:
    row = (await conn.execute(_GET_LOCKED if lock else _GET, {"id": merge_id})).first()
    return _merge_row(row) if row else None


async def later_dependent(conn: AsyncConnection, merge_id: str) -> str | None:
    return (await conn.execute(_LATER, {"id": merge_id})).scalar_one_or_none()


_RESTORE_CUSTOMER = sa.text(
    "INSERT INTO customers SELECT * FROM jsonb_populate_record(NULL::customers, CAST(:row AS jsonb))"
)
_BUMP = sa.text("UPDATE customers SET version = version + 1, update_time = now() WHERE id = :d")
_RESTORE_CONTACTS = sa.text(
    """
    UPDATE contact_points p SET customer_id = :d, is_primary = x.is_primary, position = x.position
    FROM jsonb_to_recordset(CAST(:contacts AS jsonb)) AS x(kind smallint, value text, is_primary boolean, position smallint)
    WHERE p.customer_id = :s AND p.kind = x.kind AND p.value = x.value
    """
)
# The survivor keeps her purchases made since the merge: the duplicate's figures are
# taken off hers, and her first / last purchase come from what she had before the merge
# and the purchases she still holds.
_SUBTRACT_STATS = sa.text(
    """
    UPDATE customer_purchase_stats s SET
        lifetime_value = s.lifetime_value - d.lifetime_value,
        order_count = s.order_count - d.order_count,
        category_spend = (
            SELECT COALESCE(jsonb_object_agg(k, v), '{}')
            FROM (SELECT key AS k, sum(value::numeric) AS v
                  FROM (SELECT key, value FROM jsonb_each_text(s.category_spend)
                        UNION ALL SELECT key, (-(value::numeric))::text FROM jsonb_each_text(d.category_spend)) e
                  GROUP BY key HAVING sum(value::numeric) <> 0) m),
        first_purchase_time = COALESCE(
            LEAST(b.first_purchase_time, (SELECT min(order_time) FROM purchases p
                                          WHERE p.customer_id = :s AND p.currency = s.currency)),
            b.first_purchase_time, s.first_purchase_time),
        last_purchase_time = COALESCE(
            GREATEST(b.last_purchase_time, (SELECT max(order_time) FROM purchases p
                                            WHERE p.customer_id = :s AND p.currency = s.currency)),
            b.last_purchase_time, s.last_purchase_time)
    FROM jsonb_populate_recordset(NULL::customer_purchase_stats, CAST(:dup AS jsonb)) d
    LEFT JOIN jsonb_populate_recordset(NULL::customer_purchase_stats, CAST(:before AS jsonb)) b
           ON b.currency = d.currency
    WHERE s.customer_id = :s AND s.currency = d.currency
    """
)
_DROP_EMPTY_STATS = sa.text(
    """
    DELETE FROM customer_purchase_stats s WHERE s.customer_id = :s AND s.order_count <= 0
      AND NOT EXISTS (SELECT 1 FROM purchases p WHERE p.customer_id = :s AND p.currency = s.currency)
    """
)
_RESTORE_STATS = sa.text(
    "INSERT INTO customer_purchase_stats"
    " SELECT * FROM jsonb_populate_recordset(NULL::customer_purchase_stats, CAST(:rows AS jsonb))"
)
_UNMOVE_TAGS = sa.text("DELETE FROM customer_computed_tags WHERE customer_id = :s AND tag = ANY(:tags)")
_RESTORE_TAGS = sa.text(
    "INSERT INTO customer_computed_tags"
    " SELECT * FROM jsonb_populate_recordset(NULL::customer_computed_tags, CAST(:rows AS jsonb))"
    " ON CONFLICT DO NOTHING"
)
_UNDONE = sa.text(
    """
    UPDATE merges SET undo_time = now(), undo_actor = :actor WHERE id = :id
    RETURNING id, survivor_id, duplicate_id, actor, moved, create_time, undo_time, undo_actor
    """
)
_UNREDIRECT = sa.text("DELETE FROM customer_redirects WHERE merge_id = :id")


async def move_back(conn: AsyncConnection, merge: MergeRow, actor: str) -> MergeRow:
    m = merge.moved
    p = {"s": merge.survivor_id, "d": merge.duplicate_id}
    await conn.execute(_RESTORE_CUSTOMER, {"row": json.dumps(m["customer"])})
    await conn.execute(_BUMP, p)
    await conn.execute(_RESTORE_CONTACTS, {**p, "contacts": json.dumps(m["contact_points"])})
    for table in _MOVE_BY_ID:
        if m.get(table):
            await conn.execute(
                sa.text(f"UPDATE {table} SET customer_id = :d WHERE customer_id = :s AND id = ANY(:ids)"),
                {**p, "ids": m[table]},
            )
    if m.get("interaction_external_ids"):
        await conn.execute(_RESTORE_EXTERNAL_IDS, {**p, "ids": json.dumps(m["interaction_external_ids"])})
    if m.get("purchases"):
        for table in _PURCHASE_CHILDREN:
            await conn.execute(
                sa.text(f"UPDATE {table} SET customer_id = :d WHERE customer_id = :s AND purchase_id = ANY(:ids)"),
                {**p, "ids": m["purchases"]},
            )
    if m["duplicate_stats"]:
        await conn.execute(
            _SUBTRACT_STATS,
            {**p, "dup": json.dumps(m["duplicate_stats"]), "before": json.dumps(m["survivor_stats"])},
        )
        await conn.execute(_DROP_EMPTY_STATS, p)
        await conn.execute(_RESTORE_STATS, {"rows": json.dumps(m["duplicate_stats"])})
    if m["moved_tags"]:
        await conn.execute(_UNMOVE_TAGS, {**p, "tags": m["moved_tags"]})
    if m["duplicate_tags"]:
        await conn.execute(_RESTORE_TAGS, {"rows": json.dumps(m["duplicate_tags"])})
    await conn.execute(_UNREDIRECT, {"id": merge.id})
    return _merge_row((await conn.execute(_UNDONE, {"id": merge.id, "actor": actor})).one())


_CANDIDATES = """
WITH bd AS (
    SELECT c.id, lower(btrim(c.given_name || ' ' || c.family_name)) AS full_name,
           (d->>'year')::int AS y, (d->>'month')::int AS m, (d->>'day')::int AS dd
    FROM customers c, jsonb_array_elements(c.important_dates) d
    WHERE (d->>'kind')::int = 1
),
pairs AS (
    SELECT LEAST(a.customer_id, b.customer_id) AS x, GREATEST(a.customer_id, b.customer_id) AS y,
           CASE WHEN a.kind IN (2, 4) THEN 1 ELSE 3 END AS reason, a.value AS detail
    FROM contact_points a
    JOIN contact_points b ON b.value = a.value AND b.kind > a.kind AND b.customer_id <> a.customer_id
    WHERE ((a.kind IN (2, 4) AND b.kind IN (2, 4)) OR (a.kind IN (3, 5) AND b.kind IN (3, 5))) {cp_scope}
    UNION
    SELECT LEAST(a.customer_id, b.customer_id), GREATEST(a.customer_id, b.customer_id), 2,
           regexp_replace(a.value, '\\+[^@]*@', '@')
    FROM contact_points a
    JOIN contact_points b ON b.kind = 1 AND b.customer_id <> a.customer_id
         AND regexp_replace(b.value, '\\+[^@]*@', '@') = regexp_replace(a.value, '\\+[^@]*@', '@')
    WHERE a.kind = 1 {cp_scope}
    UNION
    SELECT LEAST(a.id, b.id), GREATEST(a.id, b.id), 4, a.full_name || ' / ' || b.full_name
    FROM bd a JOIN bd b ON b.m = a.m AND b.dd = a.dd AND b.id <> a.id AND (a.y = 0 OR b.y = 0 OR a.y = b.y)
    WHERE {name_scope}a.full_name <> '' AND similarity(a.full_name, b.full_name) >= 0.5
)
SELECT p.x, p.y, array_agg(p.reason ORDER BY p.reason) AS reasons, array_agg(p.detail ORDER BY p.reason) AS details,
       cx.create_time <= cy.create_time AS x_older
FROM pairs p JOIN customers cx ON cx.id = p.x JOIN customers cy ON cy.id = p.y
GROUP BY p.x, p.y, cx.create_time, cy.create_time
LIMIT 10000
"""


async def candidates(conn: AsyncConnection, customer_id: str | None) -> list[Pair]:
    """Candidate pairs, at most 10,000; with a customer, only the pairs she is part of."""
    params: dict[str, Any] = {}
    cp_scope = name_scope = ""
    if customer_id:
        cp_scope = "AND :cid IN (a.customer_id, b.customer_id)"
        name_scope = "a.id = :cid AND "
        params["cid"] = customer_id
    stmt = _CANDIDATES.format(cp_scope=cp_scope, name_scope=name_scope)
    rows = await conn.execute(sa.text(stmt), params)
    return [Pair(r.x, r.y, r.x_older, r.reasons, r.details) for r in rows]
