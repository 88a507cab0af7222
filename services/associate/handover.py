"""Running hand-overs: chunk after chunk until the departed associate holds nobody.

DepartAssociate runs its job to the end before answering; a job cut short by a crash is
resumed when a replica starts (and by repeating DepartAssociate). Each chunk's events go
through the outbox in the chunk's transaction, and part B's open tasks move in it too.
"""

from __future__ import annotations

import logging

from google.protobuf import timestamp_pb2
from sqlalchemy.ext.asyncio import AsyncEngine

from servicekit import outbox

from . import events
from .storage import handover as jobs
from .storage import tasks as task_storage

log = logging.getLogger("atelier.associate.handover")

CHUNK_SIZE = 1000


async def run_chunk(engine: AsyncEngine, job_id: str, size: int = CHUNK_SIZE) -> bool:
    """One chunk in one transaction; False when the job is finished or another replica
    holds it right now."""
    async with engine.begin() as conn:
        job = await jobs.claim(conn, job_id)
        if job is None:
            return False
        result = await jobs.move_chunk(conn, job, size)
        if result.finished:
            return False
        if result.moves:
            await task_storage.move_open_tasks(conn, moves=result.moves, from_associate=job.associate_id)
        now = timestamp_pb2.Timestamp()
        now.GetCurrentTime()
        await outbox.record(conn, *(events.assignment_changed(c, job.actor, now) for c in result.changes))
    return True


async def run(engine: AsyncEngine, job_id: str, size: int = CHUNK_SIZE) -> None:
    while await run_chunk(engine, job_id, size):
        pass


async def resume_all(engine: AsyncEngine, size: int = CHUNK_SIZE) -> int:
    """Finish every job left running (after a crash); returns how many were looked at."""
    async with engine.connect() as conn:
        pending = await jobs.running(conn)
    for job_id in pending:
        try:
            await run(engine, job_id, size)
        except Exception:
            log.exception("hand-over %s could not be resumed; it stays pending", job_id)
    return len(pending)
