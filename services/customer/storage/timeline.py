"""The merged timeline: interactions, purchases, notes and consent changes of one
customer in one keyset-paged stream, newest first (the entries themselves are read by
interactions, purchases, notes and consents.get_many).

Each entry is keyed by (time, kind, id); consent change ids are zero-padded so that their
text order is their numeric order. Every branch applies the page position itself, so
each uses its own (customer, time, id) index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.timeline import EntryKind

_BRANCHES = {
    EntryKind.INTERACTION: ("interactions", "occur_time", "id", True),
    EntryKind.PURCHASE: ("purchases", "order_time", "id", False),
    EntryKind.NOTE: ("notes", "create_time", "id", False),
    EntryKind.CONSENT_CHANGE: ("consent_changes", "change_time", "lpad(id::text, 20, '0')", False),
}


async def page(
    conn: AsyncConnection,
    customer_id: str,
    kinds: set[int],
    interaction_kinds: list[int],
    before: list[Any] | None,
    limit: int,
) -> list[tuple[datetime, int, str]]:
    """(time, entry kind, key) of the page's entries, newest first."""
    params: dict[str, Any] = {"cid": customer_id, "limit": limit, "ikinds": interaction_kinds}
    if before is not None:
        params["bt"], params["bk"], params["bid"] = before
    branches = []
    for kind, (table, time_col, id_expr, filtered) in _BRANCHES.items():
        if kind not in kinds:
            continue
        where = ["customer_id = :cid"]
        if filtered and interaction_kinds:
            where.append("kind = ANY(CAST(:ikinds AS smallint[]))")
        if before is not None:
            where.append(f"({time_col}, {int(kind)}, {id_expr}) < (CAST(:bt AS timestamptz), :bk, :bid)")
        branches.append(
            f"(SELECT {time_col} AS at, {int(kind)} AS k, {id_expr} AS key FROM {table} "
            f"WHERE {' AND '.join(where)} ORDER BY {time_col} DESC, {id_expr} DESC LIMIT :limit)"
        )
    if not branches:
        return []
    stmt = sa.text(
        "SELECT at, k, key FROM (" + " UNION ALL ".join(branches) + ") entries "
        "ORDER BY at DESC, k DESC, key DESC LIMIT :limit"
    )
    return [(r.at, r.k, r.key) for r in (await conn.execute(stmt, params)).all()]
