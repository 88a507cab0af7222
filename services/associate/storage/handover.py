"""Hand-over jobs and the set-based moves of one chunk of a book.

A chunk is one transaction: it claims the job row (FOR UPDATE SKIP LOCKED, so two
replicas never run the same job at once), moves up to N customers with a handful of
statements over arrays (never one round trip per customer), writes their history and
events in bulk, and advances the job's progress. A crash loses at most the chunk in
flight, which rolls back whole; the next run continues from what is still held.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import assignment as rules
from . import staff as staff_db
from .assignments import PRIMARY, SECONDARY, Change

RUNNING, DONE = 1, 2

_COLUMNS = "id, associate_id, successor_id, store_id, state, moved, actor, create_time, done_time"
_INSERT = sa.text(
    f"""
    INSERT INTO hand_overs (id, associate_id, successor_id, store_id, actor)
    VALUES (:id, :a, :s, :store, :actor)
    ON CONFLICT (associate_id) DO NOTHING
    RETURNING {_COLUMNS}
    """
)
_OF_ASSOCIATE = sa.text(f"SELECT {_COLUMNS} FROM hand_overs WHERE associate_id = :a")
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
# A successor who already held the customer as secondary is promoted: that row ends.
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
_STORES = sa.text("SELECT id, store_id FROM associates WHERE id = ANY(:ids)")


@dataclass(frozen=True)
class ChunkResult:
    changes: list[Change]
    moves: list[tuple[str, str]]  # (customer_id, new associate id or '' for the pool)
    finished: bool


async def create(conn: AsyncConnection, job_id: str, associate_id: str, successor_id: str | None, store_id: str, actor: str):
    """The departure's job; the existing one when she already departed."""
    row = (await conn.execute(
        _INSERT, {"id": job_id, "a": associate_id, "s": successor_id, "store": store_id, "actor": actor}
    )).first()
    return row or (await conn.execute(_OF_ASSOCIATE, {"a": associate_id})).one()


async def of_associate(conn: AsyncConnection, associate_id: str):
    return (await conn.execute(_OF_ASSOCIATE, {"a": associate_id})).first()


async def get(conn: AsyncConnection, job_id: str):
    return (await conn.execute(_GET, {"id": job_id})).first()


async def running(conn: AsyncConnection) -> list[str]:
    return [r.id for r in await conn.execute(_RUNNING)]


async def claim(conn: AsyncConnection, job_id: str):
    return (await conn.execute(_CLAIM, {"id": job_id})).first()


async def move_chunk(conn: AsyncConnection, job, size: int) -> ChunkResult:
    """Move the next `size` customers of the job's associate (primaries first, then her
    secondary holdings, which simply end). Call with the job claimed."""
    departed = job.associate_id
    note = f"hand-over from associates/{departed}"
    cids = [r.customer_id for r in await conn.execute(_NEXT, {"a": departed, "role": PRIMARY, "n": size})]
    if cids:
        await conn.execute(_LOCK_ALL, {"cids": cids})
        cids = sorted(r.customer_id for r in await conn.execute(_DROP, {"a": departed, "role": PRIMARY, "cids": cids}))
        return await _move_primaries(conn, job, cids, note)
    cids = [r.customer_id for r in await conn.execute(_NEXT, {"a": departed, "role": SECONDARY, "n": size})]
    if cids:
        await conn.execute(_LOCK_ALL, {"cids": cids})
        cids = sorted(r.customer_id for r in await conn.execute(_DROP, {"a": departed, "role": SECONDARY, "cids": cids}))
        changes = [Change(c, SECONDARY, departed, "", "", rules.HAND_OVER, note) for c in cids]
        await _history(conn, changes, job.actor, note)
        await conn.execute(_PROGRESS, {"id": job.id, "n": len(cids)})
        return ChunkResult(changes, [], False)
    await conn.execute(_FINISH, {"id": job.id})
    return ChunkResult([], [], True)


async def _move_primaries(conn: AsyncConnection, job, cids: list[str], note: str) -> ChunkResult:
    departed = job.associate_id
    if job.successor_id:
        moves = [(c, job.successor_id) for c in cids]
    else:
        # Book sizes read here already count the chunks moved before.
        candidates = await staff_db.candidates(conn, job.store_id, exclude=[departed])
        moves = rules.spread(cids, candidates) or [(c, "") for c in cids]
    held = [(c, a) for c, a in moves if a]
    pooled = [c for c, a in moves if not a]
    changes: list[Change] = []
    if held:
        hc, ha = [c for c, _ in held], [a for _, a in held]
        promoted = (await conn.execute(_DROP_PROMOTED, {"cids": hc, "aids": ha})).all()
        changes += [Change(r.customer_id, SECONDARY, r.associate_id, "", "", rules.HAND_OVER, note) for r in promoted]
        await conn.execute(_ADD_PRIMARIES, {"cids": hc, "aids": ha, "reason": rules.HAND_OVER})
    if pooled:
        await conn.execute(_TO_POOL, {"cids": pooled, "reason": rules.HAND_OVER})
    deltas: dict[str, int] = {departed: -len(cids)}
    for _, a in held:
        deltas[a] = deltas.get(a, 0) + 1
    await conn.execute(_BOOK_SIZES, {"aids": list(deltas), "deltas": list(deltas.values())})
    stores = {r.id: r.store_id for r in await conn.execute(_STORES, {"ids": list({a for _, a in held})})}
    changes += [
        Change(c, PRIMARY, departed, a, f"stores/{stores[a]}" if a else "", rules.HAND_OVER, note) for c, a in moves
    ]
    await _history(conn, changes, job.actor, note)
    await conn.execute(_PROGRESS, {"id": job.id, "n": len(cids)})
    return ChunkResult(changes, moves, False)


async def _history(conn: AsyncConnection, changes: list[Change], actor: str, note: str) -> None:
    await conn.execute(
        _HISTORY,
        {
            "cids": [c.customer_id for c in changes], "roles": [c.role for c in changes],
            "prevs": [c.previous for c in changes], "nexts": [c.associate for c in changes],
            "reason": rules.HAND_OVER, "note": note, "actor": actor,
        },
    )
