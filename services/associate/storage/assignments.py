"""Current assignments, the headquarters pool and the history of who held whom.

Every change of one customer runs under a transaction-scoped advisory lock on her id, so
concurrent rules, transfers and claims for the same customer serialise (the partial
unique index on primaries is the last word). Book sizes move with every primary added or
dropped. The set-based variants used by hand-over (many customers per statement) are in
storage.hand_overs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.assignment import AssignmentChange, Holding, Role
from .statements import Position, as_rows

_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtext('assignment:' || :c))")
_HOLDING = sa.text(
    """
    SELECT a.associate_id, a.role, a.reason, a.since, NULL::smallint AS pool_reason, NULL::timestamptz AS pool_since
    FROM assignments a WHERE a.customer_id = :c
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, p.reason, p.since FROM hq_pool p WHERE p.customer_id = :c
    """
)
_PRIMARY = sa.text("SELECT associate_id FROM assignments WHERE customer_id = :c AND role = 1")
_DROP_PRIMARY = sa.text(
    """
    WITH dropped AS (DELETE FROM assignments WHERE customer_id = :c AND role = 1 RETURNING associate_id)
    UPDATE associates s SET book_size = s.book_size - 1 FROM dropped WHERE s.id = dropped.associate_id
    """
)
_DROP_SECONDARY = sa.text("DELETE FROM assignments WHERE customer_id = :c AND associate_id = :a AND role = 2")
_ADD = sa.text("INSERT INTO assignments (customer_id, associate_id, role, reason) VALUES (:c, :a, :role, :reason)")
_BOOK = sa.text("UPDATE associates SET book_size = book_size + 1 WHERE id = :a")
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


async def lock(conn: AsyncConnection, customer_id: str) -> None:
    await conn.execute(_LOCK, {"c": customer_id})


async def holding(conn: AsyncConnection, customer_id: str) -> Holding:
    primary = reason = since = pool_reason = pool_since = None
    secondaries = []
    for r in await conn.execute(_HOLDING, {"c": customer_id}):
        if r.pool_reason is not None:
            pool_reason, pool_since = r.pool_reason, r.pool_since
        elif r.role == Role.PRIMARY:
            primary, reason, since = r.associate_id, r.reason, r.since
        else:
            secondaries.append(r.associate_id)
    return Holding(primary, reason, since, tuple(sorted(secondaries)), pool_reason, pool_since)


async def primary_of(conn: AsyncConnection, customer_id: str) -> str:
    """Her primary associate (bare), '' when nobody holds her."""
    return str((await conn.execute(_PRIMARY, {"c": customer_id})).scalar() or "")


async def drop_primary(conn: AsyncConnection, customer_id: str) -> None:
    """Her primary holding ends; that associate's book shrinks."""
    await conn.execute(_DROP_PRIMARY, {"c": customer_id})


async def drop_secondary(conn: AsyncConnection, customer_id: str, associate_id: str) -> None:
    await conn.execute(_DROP_SECONDARY, {"c": customer_id, "a": associate_id})


async def add_primary(conn: AsyncConnection, customer_id: str, associate_id: str, reason: int) -> None:
    """She becomes that associate's primary customer; the associate's book grows."""
    await conn.execute(_ADD, {"c": customer_id, "a": associate_id, "role": Role.PRIMARY, "reason": reason})
    await conn.execute(_BOOK, {"a": associate_id})


async def add_secondary(conn: AsyncConnection, customer_id: str, associate_id: str, reason: int) -> None:
    await conn.execute(_ADD, {"c": customer_id, "a": associate_id, "role": Role.SECONDARY, "reason": reason})


async def to_pool(conn: AsyncConnection, customer_id: str, reason: int) -> None:
    await conn.execute(_POOL_IN, {"c": customer_id, "reason": reason})


async def out_of_pool(conn: AsyncConnection, customer_id: str) -> None:
    await conn.execute(_POOL_OUT, {"c": customer_id})


async def record_history(conn: AsyncConnection, changes: Sequence[AssignmentChange], actor: str) -> None:
    if changes:
        await conn.execute(
            _HISTORY,
            [
                {
                    "c": c.customer_id,
                    "role": c.role,
                    "previous": c.previous,
                    "associate": c.associate,
                    "reason": c.reason,
                    "note": c.note,
                    "actor": actor,
                }
                for c in changes
            ],
        )


@dataclass(frozen=True)
class HistoryRow:
    id: int
    customer_id: str
    role: int
    previous_associate: str
    associate: str
    reason: int
    note: str
    actor: str
    change_time: datetime


_HISTORY_PAGE = sa.text(
    """
    SELECT id, customer_id, role, previous_associate, associate, reason, note, actor, change_time
    FROM assignment_history WHERE customer_id = :c AND id < :before ORDER BY id DESC LIMIT :limit
    """
)


async def history_page(conn: AsyncConnection, customer_id: str, after: Position, limit: int) -> list[HistoryRow]:
    """Newest first; `after`: (the id of the last change seen,)."""
    params = {"c": customer_id, "before": after[0] if after else 2**63 - 1, "limit": limit}
    return as_rows(HistoryRow, (await conn.execute(_HISTORY_PAGE, params)).all())


@dataclass(frozen=True)
class PooledRow:
    customer_id: str
    reason: int
    since: datetime


_POOL_PAGE = sa.text(
    """
    SELECT p.customer_id, p.reason, p.since FROM hq_pool p
    WHERE (p.since, p.customer_id) > (CAST(:t AS timestamptz), :c)
    ORDER BY p.since, p.customer_id LIMIT :limit
    """
)
_STORE_POOL_PAGE = sa.text(
    """
    SELECT p.customer_id, p.reason, p.since FROM hq_pool p
    JOIN customer_homes h ON h.customer_id = p.customer_id AND h.home_store = :store
    WHERE (p.since, p.customer_id) > (CAST(:t AS timestamptz), :c)
    ORDER BY p.since, p.customer_id LIMIT :limit
    """
)


async def pool_page(conn: AsyncConnection, store: str | None, after: Position, limit: int) -> list[PooledRow]:
    """Oldest first; `store` (`stores/{id}`): only the customers whose home store it is."""
    t, c = after if after else ("-infinity", "")
    params = {"t": t, "c": c, "limit": limit}
    if store is None:
        return as_rows(PooledRow, (await conn.execute(_POOL_PAGE, params)).all())
    return as_rows(PooledRow, (await conn.execute(_STORE_POOL_PAGE, {**params, "store": store})).all())


_LAST_PRIMARY = sa.text(
    "SELECT associate, reason FROM assignment_history "
    "WHERE customer_id = :c AND role = 1 AND associate <> '' ORDER BY id DESC LIMIT 1"
)


async def last_primary(conn: AsyncConnection, customer_id: str) -> tuple[str, int] | None:
    """The primary associate her history last gave her, and why (also once she was
    removed, e.g. merged into another customer)."""
    row = (await conn.execute(_LAST_PRIMARY, {"c": customer_id})).one_or_none()
    return (row.associate, row.reason) if row is not None else None
