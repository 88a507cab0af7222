"""DepartAssociate and GetHandOver over gRPC."""

from __future__ import annotations

import asyncio

from servicekit import context, names, outbox, wire
from servicekit.errors import Aborted, FailedPrecondition, NotFound, Violations, invalid

from .. import events, handover
from ..domain import access, staff
from ..storage import handover as jobs, mapping, staff as staff_db

# Hand-overs still running after their caller went away (strong references for the loop).
_in_flight: set[asyncio.Future] = set()


class HandOverRpcs:
    _engine = None
    _chunk_size = handover.CHUNK_SIZE

    async def DepartAssociate(self, request, context_):
        caller = context.principal()
        violations = Violations()
        aid = successor = None
        try:
            aid = names.parse(request.name, "associates", "name")
        except Exception as exc:
            violations.items.extend(exc.violations)
        if request.successor:
            try:
                successor = names.parse(request.successor, "associates", "successor")
            except Exception as exc:
                violations.items.extend(exc.violations)
            if successor and successor == aid:
                violations.add("successor", "must be another associate")
        expected = None
        if request.etag:
            expected = wire.parse_etag(request.etag)
            violations.require(expected is not None, "etag", "not an etag returned by this API")
        violations.raise_if_any()

        async with self._engine.begin() as conn:
            leaving = await staff_db.get(conn, aid, lock=True)
            if leaving is None:
                raise NotFound(request.name)
            store = f"stores/{leaving.store_id}"
            access.check_depart(caller, store, request.name)
            job = await jobs.of_associate(conn, aid) if leaving.status == staff.DEPARTED else None
            if job is None:
                if expected is not None and expected != leaving.version:
                    raise Aborted(
                        f"{request.name} changed since it was read", reason="ETAG_MISMATCH",
                        metadata={"current_etag": wire.etag(leaving.version)},
                    )
                if successor:
                    taker = await staff_db.get(conn, successor)
                    if taker is None:
                        raise invalid("successor", f"{request.successor} does not exist")
                    if taker.status != staff.ACTIVE or taker.role not in (staff.ASSOCIATE, staff.MANAGER):
                        raise FailedPrecondition(
                            f"{request.successor} is not an active associate", reason="SUCCESSOR_INACTIVE",
                            metadata={"successor": request.successor},
                        )
                    if f"stores/{taker.store_id}" != store and not access.everywhere(caller):
                        raise access.deny(caller, f"hand a book over to another store ({request.successor})",
                                          resource=request.successor)
                updated = mapping.associate(await staff_db.update(conn, aid, {"status": staff.DEPARTED}))
                job = await jobs.create(conn, names.new_id(), aid, successor, leaving.store_id, caller.subject)
                await outbox.record(
                    conn,
                    events.associate_departed(request.name, store, caller.subject),
                    events.associate_changed(updated, caller.subject, created=False),
                )
        # Outside the departure's transaction: each chunk commits on its own, so a crash
        # keeps what was moved and a repeat (or a restart) carries on. Shielded: a caller
        # that gives up (deadline, disconnect) does not stop the hand-over half-way.
        running = asyncio.ensure_future(handover.run(self._engine, job.id, self._chunk_size))
        _in_flight.add(running)
        running.add_done_callback(_in_flight.discard)
        await asyncio.shield(running)
        async with self._engine.connect() as conn:
            return mapping.hand_over(await jobs.get(conn, job.id))

    async def GetHandOver(self, request, context_):
        caller = context.principal()
        hid = names.parse(request.name, "handOvers", "name")
        async with self._engine.connect() as conn:
            job = await jobs.get(conn, hid)
        if job is None:
            raise NotFound(request.name)
        if not access.manages(caller, f"stores/{job.store_id}"):
            raise access.deny(caller, f"see {request.name}", resource=request.name)
        return mapping.hand_over(job)
