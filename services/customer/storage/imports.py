"""Bulk import storage: one transaction per batch, set-based.

The batch's rows go to temporary tables with COPY, then a handful of INSERT … SELECT /
UPDATE … FROM statements apply them: new customers, their contact points, the rows that
merge into existing customers (matched on a contact point) and the customer.created /
customer.updated events (COPY into the outbox). The number of statements per batch does
not depend on its size.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.imports import ImportRow, Rejected

_CLAIM = sa.text(
    """
    INSERT INTO import_batches (import_id, batch_id, accepted, merged, rejected_rows, actor)
    VALUES (:import_id, :batch_id, 0, 0, '[]', :actor)
    ON CONFLICT (import_id, batch_id) DO NOTHING
    RETURNING import_id
    """
)
_STORED = sa.text(
    "SELECT accepted, merged, rejected_rows FROM import_batches WHERE import_id = :import_id AND batch_id = :batch_id"
)
_FINISH = sa.text(
    """
    UPDATE import_batches SET accepted = :accepted, merged = :merged, rejected_rows = CAST(:rejected AS jsonb)
    WHERE import_id = :import_id AND batch_id = :batch_id
    """
)
_MATCH = sa.text(
    """
    SELECT DISTINCT ON (u.row_number) u.row_number, cp.customer_id
    FROM unnest(CAST(:rows AS bigint[]), CAST(:kinds AS smallint[]), CAST(:vals AS text[]), CAST(:pos AS int[]))
         AS u(row_number, kind, value, position)
    JOIN contact_points cp ON cp.kind = u.kind AND cp.value = u.value
    ORDER BY u.row_number, u.position
    """
)
_STAGE = """
CREATE TEMP TABLE import_rows (
    id text, is_new boolean, given_name text, family_name text, preferred_name text, locale text,
    home_store text, tier smallint, referral_code text, preferences jsonb, important_dates jsonb,
    tags text[], search_text text
) ON COMMIT DROP;
CREATE TEMP TABLE import_contacts (
    customer_id text, extend boolean, kind smallint, value text, is_primary boolean, position smallint
) ON COMMIT DROP
"""
_INSERT_CUSTOMERS = sa.text(
    """
    INSERT INTO customers (id, given_name, family_name, preferred_name, locale, home_store, tier,
                           referral_code, preferences, important_dates, tags, search_text)
    SELECT id, given_name, family_name, preferred_name, locale, home_store, tier,
           referral_code, preferences, important_dates, tags, search_text
    FROM import_rows WHERE is_new
    ON CONFLICT (id) DO NOTHING
    RETURNING id, create_time, update_time
    """
)
_DROP_TAKEN = sa.text("DELETE FROM import_contacts WHERE NOT extend AND customer_id = ANY(:ids)")
_INSERT_CONTACTS = sa.text(
    """
    INSERT INTO contact_points (customer_id, kind, value, is_primary, position)
    SELECT ic.customer_id, ic.kind, ic.value, ic.is_primary AND NOT ic.extend,
           ic.position + CASE WHEN ic.extend
                              THEN (SELECT COALESCE(max(p.position), -1) + 1 FROM contact_points p
                                    WHERE p.customer_id = ic.customer_id)
                              ELSE 0 END
    FROM import_contacts ic
    ON CONFLICT (kind, value) DO NOTHING
    """
)
# A row merging into an existing customer never overwrites what she has: blanks are
# filled, lists gain what they lack (domain/imports.fold_values's rule, set-based).
_MERGE_EXISTING = sa.text(
    """
    UPDATE customers c SET
        given_name = CASE WHEN c.given_name = '' THEN u.given_name ELSE c.given_name END,
        family_name = CASE WHEN c.family_name = '' THEN u.family_name ELSE c.family_name END,
        preferred_name = CASE WHEN c.preferred_name = '' THEN u.preferred_name ELSE c.preferred_name END,
        locale = CASE WHEN c.locale = '' THEN u.locale ELSE c.locale END,
        home_store = CASE WHEN c.home_store = '' THEN u.home_store ELSE c.home_store END,
        tier = CASE WHEN c.tier = 0 THEN u.tier ELSE c.tier END,
        tags = c.tags || ARRAY(SELECT t FROM unnest(u.tags) WITH ORDINALITY AS x(t, n)
                               WHERE t <> ALL(c.tags) ORDER BY n),
        preferences = c.preferences || COALESCE(
            (SELECT jsonb_agg(e ORDER BY n) FROM jsonb_array_elements(u.preferences) WITH ORDINALITY AS x(e, n)
             WHERE NOT c.preferences @> jsonb_build_array(e)), '[]'),
        important_dates = c.important_dates || COALESCE(
            (SELECT jsonb_agg(e ORDER BY n) FROM jsonb_array_elements(u.important_dates) WITH ORDINALITY AS x(e, n)
             WHERE NOT c.important_dates @> jsonb_build_array(e)), '[]'),
        search_text = btrim(c.search_text || ' ' || u.search_text),
        version = c.version + 1,
        update_time = now()
    FROM import_rows u
    WHERE NOT u.is_new AND c.id = u.id
    """
)


async def _driver(conn: AsyncConnection) -> Any:
    """The psycopg connection under `conn`, for COPY."""
    raw = await conn.get_raw_connection()
    if raw.driver_connection is None:
        raise RuntimeError("an import batch needs a live psycopg connection")
    return raw.driver_connection


@dataclass
class BatchOutcome:
    accepted: int = 0
    merged: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    # False when the batch had been applied before (this is how it went then).
    applied: bool = True


async def claim(conn: AsyncConnection, import_id: str, batch_id: str, actor: str) -> BatchOutcome | None:
    """Take the batch for this transaction, or return how it went the first time."""
    params = {"import_id": import_id, "batch_id": batch_id}
    if (await conn.execute(_CLAIM, {**params, "actor": actor})).first() is not None:
        return None
    stored = (await conn.execute(_STORED, params)).one()
    rejected = [Rejected(r["row"], [tuple(v) for v in r["violations"]]) for r in stored.rejected_rows]
    return BatchOutcome(accepted=stored.accepted, merged=stored.merged, rejected=rejected, applied=False)


async def match_existing(conn: AsyncConnection, rows: list[ImportRow]) -> dict[int, str]:
    """Row number → the existing customer owning one of its contact points (the first
    contact point of the row that has an owner decides)."""
    rows_: list[int] = []
    kinds: list[int] = []
    vals: list[str] = []
    pos: list[int] = []
    for row in rows:
        for i, (kind, value) in enumerate(row.contact_keys()):
            rows_.append(row.row_number)
            kinds.append(kind)
            vals.append(value)
            pos.append(i)
    if not rows_:
        return {}
    result = await conn.execute(_MATCH, {"rows": rows_, "kinds": kinds, "vals": vals, "pos": pos})
    return {r.row_number: r.customer_id for r in result}


async def apply(
    conn: AsyncConnection,
    new: list[tuple[str, ImportRow]],
    merges: list[tuple[str, ImportRow]],
    search_text: Callable[[dict[str, Any]], str],
) -> tuple[list[tuple[str, datetime, datetime]], set[str]]:
    """Write the batch: `new` (id, row) become customers, `merges` (existing id, folded
    rows) merge into existing customers. Returns the customers created (id, times) and
    the new ids that were already taken (those rows are not loaded)."""
    async with (await _driver(conn)).cursor() as cur:
        await cur.execute(_STAGE)
        async with cur.copy(
            "COPY import_rows (id, is_new, given_name, family_name, preferred_name, locale, home_store, tier,"
            " referral_code, preferences, important_dates, tags, search_text) FROM STDIN"
        ) as copy:
            for is_new, batch in ((True, new), (False, merges)):
                for cid, row in batch:
                    v = row.values
                    await copy.write_row(
                        (
                            cid,
                            is_new,
                            v.get("given_name", ""),
                            v.get("family_name", ""),
                            v.get("preferred_name", ""),
                            v.get("locale", ""),
                            v.get("home_store", ""),
                            v.get("tier", 0),
                            row.referral_code,
                            json.dumps(v.get("preferences", [])),
                            json.dumps(v.get("important_dates", [])),
                            v.get("tags", []),
                            search_text(v),
                        )
                    )
        async with cur.copy(
            "COPY import_contacts (customer_id, extend, kind, value, is_primary, position) FROM STDIN"
        ) as copy:
            for extend, batch in ((False, new), (True, merges)):
                for cid, row in batch:
                    for i, c in enumerate(row.values.get("contact_points", [])):
                        await copy.write_row((cid, extend, c.kind, c.value, c.primary, i))
    created = [(r.id, r.create_time, r.update_time) for r in await conn.execute(_INSERT_CUSTOMERS)]
    taken = {cid for cid, _ in new} - {cid for cid, _, _ in created}
    if taken:
        await conn.execute(_DROP_TAKEN, {"ids": sorted(taken)})
    await conn.execute(_INSERT_CONTACTS)
    if merges:
        await conn.execute(_MERGE_EXISTING)
    return created, taken


async def finish(conn: AsyncConnection, import_id: str, batch_id: str, outcome: BatchOutcome) -> None:
    rejected = [{"row": r.row_number, "violations": [list(v) for v in r.violations]} for r in outcome.rejected]
    await conn.execute(
        _FINISH,
        {
            "import_id": import_id,
            "batch_id": batch_id,
            "accepted": outcome.accepted,
            "merged": outcome.merged,
            "rejected": json.dumps(rejected),
        },
    )


async def copy_events(conn: AsyncConnection, events: Sequence[tuple[str, str, bytes]]) -> None:
    """Outbox rows (event id, event type, serialised envelope) for a whole batch in one COPY
    (the relay's NOTIFY trigger fires per statement, so once): thousands of events cost
    what a few do."""
    if not events:
        return
    async with (
        (await _driver(conn)).cursor() as cur,
        cur.copy("COPY outbox (event_id, event_type, envelope) FROM STDIN") as copy,
    ):
        for event in events:
            await copy.write_row(event)
