"""Hand-over jobs and the set-based moves of one chunk of a book.

A chunk is one transaction: it claims the job row (FOR UPDATE SKIP LOCKED, so two
replicas never run the same job at once), moves up to N customers with a handful of
statements over arrays (never one round trip per customer), writes their history in bulk
and advances the job's progress. A crash loses at most the chunk in flight, which rolls
back whole; the next run continues from what is still held. Who takes which customer is
the domain's plan (domain.handover); these statements only carry it out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.assignment import AssignmentChange, Reason, Role
from ..domain.handover import Move
from .statements import as_row, first


@dataclass(frozen=True)
class HandOverRow:
    id: str
    associate_id: str
    successor_id: str | None
    store_id: str
    state: int
    moved: int
    actor: str
    create_time: datetime
    done_time: datetime | None


_COLUMNS = "id, associate_id, successor_id, store_id, state, moved, actor, create_time, done_time"
_INSERT = sa.text(
    f"""
    INSERT INTO hand_overs (id, associate_id, successor_id, store_id, actor)
    VALUES (:id, :a, :s, :store, :actor)
    ON CONFLICT (associate_id) DO NOTHING
    RETURNING {_COLUMNS}
    """
)
_OF_ASSOCIATE = sa.text(f"SELECT {_COLUMNS} FROM hand_overs WHERE associate_id = :id")
_GET = sa.text(f"SELECT {_COLUMNS} FROM hand_overs WHERE id = :id")
_CLAIM = sa.text(f"SELECT {_COLUMNS} FROM hand_overs WHERE id = :id AND state = 1 FOR UPDATE SKIP LOCKED")
_RUNNING = sa.text("SELECT id FROM hand_overs WHERE state = 1 ORDER BY create_time")
_PROGRESS = sa.text("UPDATE hand_overs SET moved = moved + :n WHERE id = :id")
_FINISH = sa.text("UPDATE hand_overs SET state = 2, done_time = now() WHERE id = :id")

_NEXT = sa.text(
    "SELECT customer_id FROM assignments WHERE associate_id = :a AND role = :role ORDER BY customer_id LIMIT :n"
)
_LOCK_ALL = sa.text(
    "SELECT pg_advisory_xact_lock(hashtext('assignment:' || c)) FROM unnest(CAST(:cids AS text[])) AS c ORDER BY c"
)
_DROP = sa.text(
    """
    DELETE FROM assignments WHERE associate_id = :a AND role = :role AND customer_id = ANY(:cids)
    RETURNING customer_id
    """
)
# A taker who already held the customer as secondary is promoted: that row ends.
_DROP_PROMOTED = sa.text(
    """
    DELETE FROM assignments x USING unnest(CAST(:cids AS text[]), CAST(:aids AS text[])) AS m(c, a)
    WHERE x.customer_id = m.c AND x.associate_id = m.a AND x.role = 2
    RETURNING x.customer_id, x.associate_id
    """
)
_ADD_PRIMARIES = sa.text(
    """
    INSERT INTO assignments (customer_id, associate_id, role, reason)
    SELECT m.c, m.a, 1, :reason FROM unnest(CAST(:cids AS text[]), CAST(:aids AS text[])) AS m(c, a)
    """
)
_TO_POOL = sa.text(
    """
    INSERT INTO hq_pool (customer_id, reason) SELECT c, :reason FROM unnest(CAST(:cids AS text[])) AS c
    ON CONFLICT (customer_id) DO UPDATE SET reason = EXCLUDED.reason
    """
)
_BOOK_SIZES = sa.text(
    """
    UPDATE associates s SET book_size = s.book_size + d.delta
    FROM unnest(CAST(:aids AS text[]), CAST(:deltas AS integer[])) AS d(id, delta) WHERE s.id = d.id
    """
)
_HISTORY = sa.text(
    """
    INSERT INTO assignment_history (customer_id, role, previous_associate, associate, reason, note, actor)
    SELECT h.c, h.role, h.prev, h.next, :reason, :note, :actor
    FROM unnest(CAST(:cids AS text[]), CAST(:roles AS smallint[]), CAST(:prevs AS text[]), CAST(:nexts AS text[]))
         AS h(c, role, prev, next)
    """
)


async def create(
    conn: AsyncConnection, job_id: str, associate_id: str, successor_id: str | None, store_id: str, actor: str
) -> HandOverRow:
    """The departure's job; the existing one when she already departed."""
    params = {"id": job_id, "a": associate_id, "s": successor_id, "store": store_id, "actor": actor}
    row = (await conn.execute(_INSERT, params)).first()
    return as_row(HandOverRow, row or (await conn.execute(_OF_ASSOCIATE, {"id": associate_id})).one())


async def of_associate(conn: AsyncConnection, associate_id: str) -> HandOverRow | None:
    return await first(conn, HandOverRow, _OF_ASSOCIATE, id=associate_id)


async def get(conn: AsyncConnection, job_id: str) -> HandOverRow | None:
    return await first(conn, HandOverRow, _GET, id=job_id)


async def running(conn: AsyncConnection) -> list[str]:
    return [r.id for r in await conn.execute(_RUNNING)]


async def claim(conn: AsyncConnection, job_id: str) -> HandOverRow | None:
    """The running job, locked for this transaction; None when it is done or another
    replica holds it right now."""
    return await first(conn, HandOverRow, _CLAIM, id=job_id)


async def progress(conn: AsyncConnection, job_id: str, moved: int) -> None:
    await conn.execute(_PROGRESS, {"id": job_id, "n": moved})


async def finish(conn: AsyncConnection, job_id: str) -> None:
    await conn.execute(_FINISH, {"id": job_id})


async def take_held(conn: AsyncConnection, associate_id: str, role: Role, limit: int) -> list[str]:
    """Ends up to `limit` of her holdings of `role` (under the customers' locks, in one
    lock order) and returns those customers, sorted."""
    cids = [r.customer_id for r in await conn.execute(_NEXT, {"a": associate_id, "role": role, "n": limit})]
    if not cids:
        return []
    await conn.execute(_LOCK_ALL, {"cids": cids})
    dropped = await conn.execute(_DROP, {"a": associate_id, "role": role, "cids": cids})
    return sorted(r.customer_id for r in dropped)


async def give_primaries(conn: AsyncConnection, moves: Sequence[Move], reason: Reason) -> list[tuple[str, str]]:
    """Binds each customer to her taker (the pool for None); returns the secondary
    holdings that ended because their holder became primary, as (customer, associate)."""
    held = [(m.customer_id, m.associate_id) for m in moves if m.associate_id]
    pooled = [m.customer_id for m in moves if not m.associate_id]
    promoted: list[tuple[str, str]] = []
    if held:
        pairs = {"cids": [c for c, _ in held], "aids": [a for _, a in held]}
        promoted = [(r.customer_id, r.associate_id) for r in await conn.execute(_DROP_PROMOTED, pairs)]
        await conn.execute(_ADD_PRIMARIES, {**pairs, "reason": reason})
    if pooled:
        await conn.execute(_TO_POOL, {"cids": pooled, "reason": reason})
    return promoted


async def adjust_book_sizes(conn: AsyncConnection, deltas: Mapping[str, int]) -> None:
    await conn.execute(_BOOK_SIZES, {"aids": list(deltas), "deltas": list(deltas.values())})


async def record_history(conn: AsyncConnection, changes: Sequence[AssignmentChange], actor: str, note: str) -> None:
    """The chunk's history rows in one statement (one reason and note for all)."""
    await conn.execute(
        _HISTORY,
        {
            "cids": [c.customer_id for c in changes],
            "roles": [c.role for c in changes],
            "prevs": [c.previous for c in changes],
            "nexts": [c.associate for c in changes],
            "reason": Reason.HAND_OVER,
            "note": note,
            "actor": actor,
        },
    )
