"""Hand-overs a crash left half-way carry on as soon as a replica starts (app.py runs this
once at start). Chunks are claimed with SKIP LOCKED, so replicas starting together share
the work instead of repeating it."""

from __future__ import annotations

import logging

from servicekit.uow import Transactions

from ..domain.handover import CHUNK_SIZE
from ..usecases import handover

log = logging.getLogger("atelier.associate.handover")


async def run(tx: Transactions, size: int = CHUNK_SIZE) -> int:
    """Finishes every job left running; returns how many were looked at. A job that
    fails again stays pending (for the next start or a repeated DepartAssociate)."""
    pending = await handover.running_jobs(tx)
    for job_id in pending:
        try:
            await handover.run(tx, job_id, size)
        except Exception:
            log.exception("hand-over %s could not be resumed; it stays pending", job_id)
    return len(pending)
