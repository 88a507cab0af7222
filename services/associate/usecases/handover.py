"""Hand-over: an associate departs and her whole book moves, chunk after chunk, until
she holds nobody.

DepartAssociate marks her departed, creates the job and runs it to the end before
answering; a job cut short by a crash is resumed when a replica starts
(jobs.resume_hand_overs) and by repeating DepartAssociate. Each chunk is one unit of work:
its history, its assignment_changed events and the move of part of her open tasks commit
together. Who takes which customer is the domain's plan (domain.handover).
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncConnection

from atelier.associate.v1 import assignment_pb2
from servicekit import names
from servicekit.auth import SYSTEM, Principal
from servicekit.errors import NotFound
from servicekit.uow import Transactions, check_etag

from ..domain import access, handover
from ..domain.assignment import AssignmentChange, Reason, Role
from ..domain.names import prefixed
from ..domain.staff import Status, departed
from ..messages import assignment as messages
from ..messages import directory, events
from ..storage import associates, hand_overs, tasks
from ..storage.hand_overs import HandOverRow

# Hand-overs still running after their caller went away (strong references for the loop).
_in_flight: set[asyncio.Future[None]] = set()


async def depart_associate(
    tx: Transactions,
    caller: Principal,
    associate_id: str,
    name: str,
    successor_id: str | None,
    successor: str,
    expected: int | None,
) -> assignment_pb2.HandOver:
    """DepartAssociate: repeating it (or calling it for an associate who already left)
    answers the same hand-over, finishing it first if it was cut short."""
    async with tx.begin(caller) as uow:
        leaving = await associates.get(uow.conn, associate_id, lock=True)
        if leaving is None:
            raise NotFound(name)
        store = prefixed("stores", leaving.store_id)
        access.check_depart(caller, leaving, name)
        job = await hand_overs.of_associate(uow.conn, associate_id) if departed(leaving) else None
        if job is None:
            check_etag(expected, leaving.version)
            if successor_id:
                handover.check_successor(caller, successor, await associates.get(uow.conn, successor_id), store)
            updated = await associates.update(uow.conn, associate_id, {"status": Status.DEPARTED})
            job = await hand_overs.create(
                uow.conn, names.new_id(), associate_id, successor_id, leaving.store_id, caller.subject
            )
            uow.emit(
                events.associate_departed(name, store, caller.subject),
                events.associate_changed(directory.associate(updated), caller.subject, created=False),
            )
    # Outside the departure's transaction: each chunk commits on its own, so a crash
    # keeps what was moved and a repeat (or a restart) carries on. Shielded: a caller
    # that gives up (deadline, disconnect) does not stop the hand-over half-way.
    running = asyncio.ensure_future(run(tx, job.id))
    _in_flight.add(running)
    running.add_done_callback(_in_flight.discard)
    await asyncio.shield(running)
    async with tx.read() as conn:
        return messages.hand_over(await _job(conn, job.id, f"handOvers/{job.id}"))


async def get_hand_over(tx: Transactions, caller: Principal, job_id: str, name: str) -> assignment_pb2.HandOver:
    async with tx.read() as conn:
        job = await hand_overs.get(conn, job_id)
    if job is None:
        raise access.missing_hand_over(caller, name)
    access.check_see_hand_over(caller, prefixed("stores", job.store_id), name)
    return messages.hand_over(job)


async def _job(conn: AsyncConnection, job_id: str, name: str) -> HandOverRow:
    job = await hand_overs.get(conn, job_id)
    if job is None:
        raise NotFound(name)
    return job


async def run(tx: Transactions, job_id: str, size: int = handover.CHUNK_SIZE) -> None:
    """Chunk after chunk until the job is done (or another replica holds it)."""
    while await run_chunk(tx, job_id, size):
        pass


async def running_jobs(tx: Transactions) -> list[str]:
    async with tx.read() as conn:
        return await hand_overs.running(conn)


async def run_chunk(tx: Transactions, job_id: str, size: int = handover.CHUNK_SIZE) -> bool:
    """One chunk in one unit of work; False when the job is finished or another replica
    holds it right now."""
    async with tx.begin(SYSTEM) as uow:
        job = await hand_overs.claim(uow.conn, job_id)
        if job is None:
            return False
        changes = await _move_chunk(uow.conn, job, size)
        if changes is None:
            await hand_overs.finish(uow.conn, job.id)
            return False
        when = events.now()
        uow.emit(*(events.assignment_changed(c, job.actor, when) for c in changes))
    return True


async def _move_chunk(conn: AsyncConnection, job: HandOverRow, size: int) -> list[AssignmentChange] | None:
    """Moves the next chunk of her book (in the domain's order of holdings); None when
    she holds nobody any more."""
    departed_id = job.associate_id
    for role in handover.ORDER:
        customers = await hand_overs.take_held(conn, departed_id, role, size)
        if customers:
            break
    else:
        return None
    if role is Role.PRIMARY:
        # Book sizes read here already count the chunks moved before.
        candidates = [] if job.successor_id else await associates.candidates(conn, job.store_id, [departed_id])
        moves = handover.plan_primaries(customers, successor=job.successor_id, candidates=candidates)
        promoted = await hand_overs.give_primaries(conn, moves, Reason.HAND_OVER)
        await hand_overs.adjust_book_sizes(conn, handover.book_size_deltas(departed_id, moves))
        stores = await associates.stores_of(conn, [m.associate_id for m in moves if m.associate_id])
        changes = handover.primary_changes(departed_id, moves, promoted, stores)
        # Her open tasks on these customers follow them (to the store queue for the pool).
        await tasks.move_open_tasks(conn, [(m.customer_id, m.associate_id or "") for m in moves], departed_id)
    else:
        changes = handover.secondary_changes(departed_id, customers)
    await hand_overs.record_history(conn, changes, job.actor, handover.note(departed_id))
    await hand_overs.progress(conn, job.id, len(customers))
    return changes
