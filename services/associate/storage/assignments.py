"""Current assignments, the headquarters pool and the history of who held whom.

Every change of one customer runs under a transaction-scoped advisory lock on her id, so
concurrent rules, transfers and claims for the same customer serialise (the partial
unique index on primaries is the last word). Book sizes are maintained here with every
change of a primary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from atelier.events.v1 import associate_events_pb2 as ev

PRIMARY = ev.AssignmentRole.ASSIGNMENT_ROLE_PRIMARY
SECONDARY = ev.AssignmentRole.ASSIGNMENT_ROLE_SECONDARY


@dataclass(frozen=True)
class Holding:
    primary: str | None
    primary_reason: int | None
    primary_since: datetime | None
    secondaries: tuple[str, ...]
    pool_reason: int | None
    pool_since: datetime | None

    @property
    def in_pool(self) -> bool:
        return self.pool_reason is not None


@dataclass(frozen=True)
class Change:
    """One row of history and one assignment_changed event."""

    customer_id: str
    role: int
    previous: str
    associate: str
    store: str
    reason: int
    note: str


_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtext('assignment:' || :c))")
_HOLDING = sa.text(
    """
    SELECT a.associate_id, a.role, a.reason, a.since, NULL::smallint AS pool_reason, NULL::timestamptz AS pool_since
    FROM assignments a WHERE a.customer_id = :c
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, p.reason, p.since FROM hq_pool p WHERE p.customer_id = :c
    """
)


async def lock(conn: AsyncConnection, customer_id: str) -> None:
    await conn.execute(_LOCK, {"c": customer_id})


async def holding(conn: AsyncConnection, customer_id: str) -> Holding:
    primary = reason = since = pool_reason = pool_since = None
    secondaries = []
    for r in await conn.execute(_HOLDING, {"c": customer_id}):
        if r.pool_reason is not None:
            pool_reason, pool_since = r.pool_reason, r.pool_since
        elif r.role == PRIMARY:
            primary, reason, since = r.associate_id, r.reason, r.since
        else:
            secondaries.append(r.associate_id)
    return Holding(primary, reason, since, tuple(sorted(secondaries)), pool_reason, pool_since)


_STORE_OF = sa.text("SELECT store_id FROM associates WHERE id = :id")
_DROP_PRIMARY = sa.text("DELETE FROM assignments WHERE customer_id = :c AND role = 1 RETURNING associate_id")
_DROP_ROW = sa.text("DELETE FROM assignments WHERE customer_id = :c AND associate_id = :a RETURNING role")
_ADD = sa.text(
    "INSERT INTO assignments (customer_id, associate_id, role, reason) VALUES (:c, :a, :role, :reason)"
)
_BOOK = sa.text("UPDATE associates SET book_size = book_size + :d WHERE id = :a")
_POOL_IN = sa.text(
    "INSERT INTO hq_pool (customer_id, reason) VALUES (:c, :reason) "
    "ON CONFLICT (customer_id) DO UPDATE SET reason = EXCLUDED.reason"
)
_POOL_OUT = sa.text("DELETE FROM hq_pool WHERE customer_id = :c")
_HISTORY = sa.text(
    """
    INSERT INTO assignment_history (customer_id, role, previous_associate, associate, reason, note, actor)
    VALUES (:c, :role, :previous, :associate, :reason, :note, :actor)
    """
)


async def store_of(conn: AsyncConnection, associate_id: str) -> str:
    return (await conn.execute(_STORE_OF, {"id": associate_id})).scalar_one_or_none() or ""


async def set_primary(
    conn: AsyncConnection, customer_id: str, associate_id: str | None, reason: int, note: str, actor: str
) -> list[Change]:
    """Make `associate_id` her primary (None: the pool). Call under `lock`. Returns the
    changes made (none when she already is held that way)."""
    current = await holding(conn, customer_id)
    if current.primary == associate_id and (associate_id is not None or current.in_pool):
        return []
    changes: list[Change] = []
    previous = ""
    dropped = (await conn.execute(_DROP_PRIMARY, {"c": customer_id})).scalar_one_or_none()
    if dropped:
        previous = dropped
        await conn.execute(_BOOK, {"d": -1, "a": dropped})
    store = ""
    if associate_id is None:
        await conn.execute(_POOL_IN, {"c": customer_id, "reason": reason})
    else:
        await conn.execute(_POOL_OUT, {"c": customer_id})
        if associate_id in current.secondaries:
            # Promoted from secondary: the secondary holding ends with the promotion.
            await conn.execute(_DROP_ROW, {"c": customer_id, "a": associate_id})
            changes.append(Change(customer_id, SECONDARY, associate_id, "", "", reason, note))
        await conn.execute(_ADD, {"c": customer_id, "a": associate_id, "role": PRIMARY, "reason": reason})
        await conn.execute(_BOOK, {"d": 1, "a": associate_id})
        store = f"stores/{await store_of(conn, associate_id)}"
    changes.append(Change(customer_id, PRIMARY, previous, associate_id or "", store, reason, note))
    await _history(conn, changes, actor)
    return changes


async def add_secondary(
    conn: AsyncConnection, customer_id: str, associate_id: str, reason: int, note: str, actor: str
) -> list[Change]:
    current = await holding(conn, customer_id)
    if associate_id == current.primary or associate_id in current.secondaries:
        return []
    await conn.execute(_ADD, {"c": customer_id, "a": associate_id, "role": SECONDARY, "reason": reason})
    store = f"stores/{await store_of(conn, associate_id)}"
    changes = [Change(customer_id, SECONDARY, "", associate_id, store, reason, note)]
    await _history(conn, changes, actor)
    return changes


async def remove_all(conn: AsyncConnection, customer_id: str, reason: int, note: str, actor: str) -> list[Change]:
    """She no longer exists here (erased, or merged into another customer)."""
    current = await holding(conn, customer_id)
    changes = []
    if current.primary:
        await conn.execute(_DROP_PRIMARY, {"c": customer_id})
        await conn.execute(_BOOK, {"d": -1, "a": current.primary})
        changes.append(Change(customer_id, PRIMARY, current.primary, "", "", reason, note))
    for aid in current.secondaries:
        await conn.execute(_DROP_ROW, {"c": customer_id, "a": aid})
        changes.append(Change(customer_id, SECONDARY, aid, "", "", reason, note))
    if current.in_pool:
        await conn.execute(_POOL_OUT, {"c": customer_id})
    await _history(conn, changes, actor)
    return changes


async def _history(conn: AsyncConnection, changes: list[Change], actor: str) -> None:
    if changes:
        await conn.execute(
            _HISTORY,
            [
                {"c": c.customer_id, "role": c.role, "previous": c.previous, "associate": c.associate,
                 "reason": c.reason, "note": c.note, "actor": actor}
                for c in changes
            ],
        )


_HISTORY_PAGE = sa.text(
    """
    SELECT id, customer_id, role, previous_associate, associate, reason, note, actor, change_time
    FROM assignment_history WHERE customer_id = :c AND id < :before ORDER BY id DESC LIMIT :limit
    """
)


async def history_page(conn: AsyncConnection, customer_id: str, before: int | None, limit: int) -> list:
    return (
        await conn.execute(_HISTORY_PAGE, {"c": customer_id, "before": before or 2**63 - 1, "limit": limit})
    ).all()


_POOL_PAGE = sa.text(
    """
    SELECT customer_id, reason, since FROM hq_pool
    WHERE (since, customer_id) > (CAST(:t AS timestamptz), :c)
    ORDER BY since, customer_id LIMIT :limit
    """
)


async def pool_page(conn: AsyncConnection, after: list | None, limit: int) -> list:
    t, c = after if after else ("-infinity", "")
    return (await conn.execute(_POOL_PAGE, {"t": t, "c": c, "limit": limit})).all()
