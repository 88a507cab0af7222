"""Segment resolution: one SQL query over customers, read through a server-side cursor
so memory stays flat whatever the audience size.

Tags match manual tags, stored computed tags (customer_computed_tags) and the time-based
computed tags, which are derived from the purchase dates exactly as the customer's read
model derives them (`lapsed`, `new-client`, with the service's configured day counts).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import computed_tags, consent
from ..domain.segments import SegmentFilter
from .customers import NOT_ERASED, SELECT_FULL, CustomerRow, row_of

_LAST = "(SELECT max(s.last_purchase_time) FROM customer_purchase_stats s WHERE s.customer_id = c.id)"
_FIRST = "(SELECT min(s.first_purchase_time) FROM customer_purchase_stats s WHERE s.customer_id = c.id)"


def where(flt: SegmentFilter, rules: computed_tags.TagRules) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = [NOT_ERASED]  # an erased customer is in no segment
    params: dict[str, Any] = {}
    stored = [t for t in flt.tags if t not in (computed_tags.LAPSED, computed_tags.NEW_CLIENT)]
    if stored:
        clauses.append(
            "(c.tags || ARRAY(SELECT t.tag FROM customer_computed_tags t WHERE t.customer_id = c.id))"
            " @> CAST(:tags AS text[])"
        )
        params["tags"] = stored
    if computed_tags.LAPSED in flt.tags:
        clauses.append(f"{_LAST} <= now() - make_interval(days => :lapsed_days)")
        params["lapsed_days"] = rules.lapsed_days
    if computed_tags.NEW_CLIENT in flt.tags:
        clauses.append(f"{_FIRST} > now() - make_interval(days => :new_days)")
        params["new_days"] = rules.new_days
    if flt.tiers:
        clauses.append("c.tier = ANY(CAST(:tiers AS smallint[]))")
        params["tiers"] = list(flt.tiers)
    if flt.home_stores:
        clauses.append("c.home_store = ANY(CAST(:stores AS text[]))")
        params["stores"] = list(flt.home_stores)
    if flt.associates:
        clauses.append(
            "EXISTS (SELECT 1 FROM customer_assignments ca WHERE ca.customer_id = c.id"
            " AND ca.associate_id = ANY(CAST(:associates AS text[])))"
        )
        params["associates"] = list(flt.associates)
    if flt.preferences:
        clauses.append("c.preferences @> CAST(:prefs AS jsonb)")
        params["prefs"] = json.dumps([{"category": c, "value": v} for c, v in flt.preferences])
    if flt.birthdays:
        clauses.append(
            "EXISTS (SELECT 1 FROM jsonb_array_elements(c.important_dates) d"
            " WHERE (d->>'kind')::int = 1"
            " AND (d->>'month')::int * 100 + (d->>'day')::int = ANY(CAST(:birthdays AS int[])))"
        )
        params["birthdays"] = list(flt.birthdays)
    if flt.consent is not None:
        # domain/consent.py: her latest answer for the channel × purpose, and what no answer means.
        clauses.append(
            "COALESCE((SELECT k.granted FROM consent_changes k WHERE k.customer_id = c.id"
            " AND k.channel = :consent_channel AND k.purpose = :consent_purpose ORDER BY k.id DESC LIMIT 1),"
            " :consent_unanswered)"
        )
        params["consent_channel"], params["consent_purpose"] = flt.consent.channel, flt.consent.purpose
        params["consent_unanswered"] = consent.GRANTED_WHEN_UNANSWERED
    if flt.last_purchase_after is not None:
        clauses.append(f"{_LAST} >= CAST(:lp_after AS timestamptz)")
        params["lp_after"] = flt.last_purchase_after.isoformat() + "+00:00"
    if flt.last_purchase_before is not None:
        clauses.append(f"{_LAST} < CAST(:lp_before AS timestamptz)")
        params["lp_before"] = flt.last_purchase_before.isoformat() + "+00:00"
    if flt.min_units is not None or flt.max_units is not None:
        clauses.append(
            "EXISTS (SELECT 1 FROM customer_purchase_stats s WHERE s.customer_id = c.id"
            " AND s.currency = :ltv_currency"
            " AND (CAST(:ltv_min AS numeric) IS NULL OR s.lifetime_value >= CAST(:ltv_min AS numeric))"
            " AND (CAST(:ltv_max AS numeric) IS NULL OR s.lifetime_value < CAST(:ltv_max AS numeric)))"
        )
        params.update(ltv_currency=flt.currency, ltv_min=flt.min_units, ltv_max=flt.max_units)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


async def stream(
    conn: AsyncConnection, flt: SegmentFilter, rules: computed_tags.TagRules, chunk: int
) -> AsyncIterator[list[CustomerRow]]:
    """Chunks of matching customers ordered by id, fetched `chunk` rows at a time from a
    server-side cursor."""
    clause, params = where(flt, rules)
    stmt = sa.text(SELECT_FULL + clause + " ORDER BY c.id")
    result = await conn.stream(stmt.execution_options(yield_per=chunk), params)
    async for partition in result.partitions(chunk):
        yield [row_of(r) for r in partition]
