"""Hand-overs a crash left half-way are resumed when a replica starts: every customer
moved once, none twice, and the hand-over reported done."""

from __future__ import annotations

import grpc

from atelier.associate.v1 import assignment_pb2
from atelier.associate.v1 import associate_service_pb2 as api
from services.associate.domain.handover import CHUNK_SIZE
from services.associate.usecases import handover
from tests.conftest import hq, start_service

from ..support import (
    TIMEOUT,
    aid,
    eventually,
    hand_over_events,
    holders,
    make_associate,
    make_store,
    md,
    rpc_error,
    seed_book,
)


async def test_crash_half_way_is_resumed_when_a_replica_starts(
    infra, associate_service, associate_stub, adb, monkeypatch
):
    store = await make_store(associate_stub)
    leaving = await make_associate(associate_stub, store.name)
    successor = await make_associate(associate_stub, store.name)
    book = await seed_book(adb, aid(leaving), 25)

    async def crash_after_one_chunk(tx, job_id, size=CHUNK_SIZE):
        await handover.run_chunk(tx, job_id, 10)
        raise RuntimeError("process killed")

    monkeypatch.setattr(handover, "run", crash_after_one_chunk)
    exc = await rpc_error(
        associate_stub.DepartAssociate(
            api.DepartAssociateRequest(name=leaving.name, successor=successor.name), metadata=md(hq()), timeout=TIMEOUT
        )
    )
    assert exc.code() == grpc.StatusCode.INTERNAL
    monkeypatch.undo()
    job = await (
        await adb.execute("SELECT state, moved FROM hand_overs WHERE associate_id = %s", (aid(leaving),))
    ).fetchone()
    assert job == (1, 10)
    assert list((await holders(adb, book)).values()).count(aid(successor)) == 10
    assert len(await hand_over_events(adb, aid(leaving))) == 10

    from services.associate.app import build

    replica = await start_service(build, infra.service_config("associate", **infra.private_bus("assoc")))
    try:

        async def finished():
            row = await (
                await adb.execute("SELECT state, moved FROM hand_overs WHERE associate_id = %s", (aid(leaving),))
            ).fetchone()
            return row if row[0] == 2 else None

        assert await eventually(finished) == (2, 25)
    finally:
        await replica.runtime.stop()
    assert set((await holders(adb, book)).values()) == {aid(successor)}
    events = await hand_over_events(adb, aid(leaving))
    assert sorted(e.customer for e in events) == [f"customers/{c}" for c in book]  # one each, none twice
    again = await associate_stub.DepartAssociate(
        api.DepartAssociateRequest(name=leaving.name, successor=successor.name), metadata=md(hq()), timeout=TIMEOUT
    )
    assert again.moved == 25 and again.state == assignment_pb2.HandOver.STATE_DONE
