"""DepartAssociate: the whole book handed over in one step, one event per client,
idempotent, and resumed after a crash half-way."""

from __future__ import annotations

import grpc

from atelier.associate.v1 import assignment_pb2, associate_pb2, associate_service_pb2 as api
from atelier.events.v1 import associate_events_pb2 as ev, envelope_pb2
from services.associate import handover
from tests.conftest import associate, hq, manager, start_service

from .support import TIMEOUT, denied_reason, eventually, make_associate, make_store, md, rpc_error, uid

HAND_OVER = ev.AssignmentReason.ASSIGNMENT_REASON_HAND_OVER


def aid(msg) -> str:
    return msg.name.split("/")[1]


async def seed_book(adb, associate_id: str, n: int, *, secondary: int = 0) -> list[str]:
    """Give her `n` clients (and `secondary` secondary holdings) the way the rules would."""
    tag = uid()
    await adb.execute(
        "INSERT INTO assignments (customer_id, associate_id, role, reason) "
        "SELECT 'c-' || %s || '-' || lpad(g::text, 5, '0'), %s, 1, 2 FROM generate_series(1, %s) g",
        (tag, associate_id, n),
    )
    await adb.execute("UPDATE associates SET book_size = book_size + %s WHERE id = %s", (n, associate_id))
    if secondary:
        await adb.execute(
            "INSERT INTO assignments (customer_id, associate_id, role, reason) "
            "SELECT 's-' || %s || '-' || g, %s, 2, 4 FROM generate_series(1, %s) g",
            (tag, associate_id, secondary),
        )
    return [f"c-{tag}-{i:05d}" for i in range(1, n + 1)]


async def hand_over_events(adb, departed: str) -> list[ev.AssignmentChanged]:
    rows = await (await adb.execute(
        "SELECT envelope FROM outbox WHERE event_type = 'atelier.associate.assignment_changed' ORDER BY seq"
    )).fetchall()
    out = []
    for (raw,) in rows:
        payload = ev.AssignmentChanged()
        envelope_pb2.EventEnvelope.FromString(raw).payload.Unpack(payload)
        if payload.previous_associate == f"associates/{departed}" and payload.reason == HAND_OVER:
            out.append(payload)
    return out


async def holders(adb, customers: list[str]) -> dict[str, str]:
    rows = await (await adb.execute(
        "SELECT customer_id, associate_id FROM assignments WHERE role = 1 AND customer_id = ANY(%s)", (customers,)
    )).fetchall()
    return dict(rows)


async def test_depart_to_a_named_colleague_moves_the_book_tasks_and_is_idempotent(associate_stub, adb):
    store = await make_store(associate_stub)
    leaving = await make_associate(associate_stub, store.name)
    successor = await make_associate(associate_stub, store.name)
    book = await seed_book(adb, aid(leaving), 30, secondary=2)
    await adb.execute(
        "INSERT INTO tasks (id, kind, rule, customer_id, trigger_key, associate_id, store_id, due_time) "
        "VALUES (%s, 1, 'manual', %s, 'k', %s, %s, now() + interval '1 day')",
        (f"t-{uid()}", book[0], aid(leaving), store.name.split("/")[1]),
    )
    request = api.DepartAssociateRequest(name=leaving.name, successor=successor.name)
    done = await associate_stub.DepartAssociate(request, metadata=md(manager(store.name)), timeout=TIMEOUT)
    assert done.state == assignment_pb2.HandOver.STATE_DONE and done.moved == 32 and done.successor == successor.name
    assert set((await holders(adb, book)).values()) == {aid(successor)}
    events = await hand_over_events(adb, aid(leaving))
    primaries = [e for e in events if e.role == ev.AssignmentRole.ASSIGNMENT_ROLE_PRIMARY]
    assert sorted(e.customer for e in primaries) == [f"customers/{c}" for c in book]
    assert {(e.associate, e.store) for e in primaries} == {(successor.name, store.name)}
    assert len(events) == 32  # 30 primaries + 2 secondary holdings that ended
    task_owner = (await (await adb.execute("SELECT associate_id FROM tasks WHERE customer_id = %s", (book[0],))).fetchone())[0]
    assert task_owner == aid(successor)
    sizes = {a: (await associate_stub.GetAssociate(api.GetAssociateRequest(name=a), metadata=md(hq()), timeout=TIMEOUT))
             for a in (leaving.name, successor.name)}
    assert sizes[leaving.name].book_size == 0 and sizes[leaving.name].status == associate_pb2.ASSOCIATE_STATUS_DEPARTED
    assert sizes[successor.name].book_size == 30

    before = (await (await adb.execute("SELECT count(*) FROM outbox")).fetchone())[0]
    again = await associate_stub.DepartAssociate(request, metadata=md(manager(store.name)), timeout=TIMEOUT)
    assert again == done
    assert (await (await adb.execute("SELECT count(*) FROM outbox")).fetchone())[0] == before
    history = await (await adb.execute(
        "SELECT count(*) FROM assignment_history WHERE previous_associate = %s AND reason = %s", (aid(leaving), HAND_OVER)
    )).fetchone()
    assert history[0] == 32


async def test_spread_across_the_store_by_load(associate_stub, adb):
    store = await make_store(associate_stub)
    leaving = await make_associate(associate_stub, store.name, capacity=50)
    busy = await make_associate(associate_stub, store.name, capacity=10)
    free = await make_associate(associate_stub, store.name, capacity=10)
    big = await make_associate(associate_stub, store.name, capacity=20)
    await seed_book(adb, aid(busy), 10)
    book = await seed_book(adb, aid(leaving), 12)
    done = await associate_stub.DepartAssociate(
        api.DepartAssociateRequest(name=leaving.name), metadata=md(hq()), timeout=TIMEOUT
    )
    assert done.moved == 12 and not done.successor
    counts: dict[str, int] = {}
    for holder in (await holders(adb, book)).values():
        counts[holder] = counts.get(holder, 0) + 1
    # Equal load at the end: free 4/10, big 8/20; busy was full and got nothing.
    assert counts == {aid(free): 4, aid(big): 8}
    assert len(await hand_over_events(adb, aid(leaving))) == 12


async def test_store_without_colleagues_parks_the_book_in_the_pool(associate_stub, adb):
    store = await make_store(associate_stub)
    leaving = await make_associate(associate_stub, store.name)
    book = await seed_book(adb, aid(leaving), 3)
    await associate_stub.DepartAssociate(api.DepartAssociateRequest(name=leaving.name), metadata=md(hq()), timeout=TIMEOUT)
    pooled = await (await adb.execute("SELECT count(*) FROM hq_pool WHERE customer_id = ANY(%s)", (book,))).fetchone()
    assert pooled[0] == 3
    assert {e.associate for e in await hand_over_events(adb, aid(leaving))} == {""}


async def test_depart_role_denials_and_validation(associate_stub):
    store, other = await make_store(associate_stub), await make_store(associate_stub)
    leaving = await make_associate(associate_stub, store.name)
    elsewhere = await make_associate(associate_stub, other.name)
    request = api.DepartAssociateRequest(name=leaving.name)
    assert await denied_reason(associate_stub.DepartAssociate(
        request, metadata=md(associate(store.name, aid(leaving))), timeout=TIMEOUT)) == "ROLE_DENIED"
    assert await denied_reason(associate_stub.DepartAssociate(
        request, metadata=md(manager(other.name)), timeout=TIMEOUT)) == "ROLE_DENIED"
    # A manager hands a book only within her store.
    assert await denied_reason(associate_stub.DepartAssociate(
        api.DepartAssociateRequest(name=leaving.name, successor=elsewhere.name),
        metadata=md(manager(store.name)), timeout=TIMEOUT)) == "ROLE_DENIED"
    exc = await rpc_error(associate_stub.DepartAssociate(
        api.DepartAssociateRequest(name=leaving.name, successor=leaving.name), metadata=md(hq()), timeout=TIMEOUT))
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    got = await associate_stub.GetAssociate(api.GetAssociateRequest(name=leaving.name), metadata=md(hq()), timeout=TIMEOUT)
    assert got.status == associate_pb2.ASSOCIATE_STATUS_ACTIVE


async def test_crash_half_way_is_resumed_when_a_replica_starts(infra, associate_service, associate_stub, adb, monkeypatch):
    store = await make_store(associate_stub)
    leaving = await make_associate(associate_stub, store.name)
    successor = await make_associate(associate_stub, store.name)
    book = await seed_book(adb, aid(leaving), 25)

    async def crash_after_one_chunk(engine, job_id, size=handover.CHUNK_SIZE):
        await handover.run_chunk(engine, job_id, 10)
        raise RuntimeError("process killed")

    monkeypatch.setattr(handover, "run", crash_after_one_chunk)
    exc = await rpc_error(associate_stub.DepartAssociate(
        api.DepartAssociateRequest(name=leaving.name, successor=successor.name), metadata=md(hq()), timeout=TIMEOUT
    ))
    assert exc.code() == grpc.StatusCode.INTERNAL
    monkeypatch.undo()
    job = (await (await adb.execute("SELECT state, moved FROM hand_overs WHERE associate_id = %s", (aid(leaving),))).fetchone())
    assert job == (1, 10)
    assert list((await holders(adb, book)).values()).count(aid(successor)) == 10
    assert len(await hand_over_events(adb, aid(leaving))) == 10

    from services.associate.app import build

    replica = await start_service(build, infra.service_config("associate", **infra.private_bus("assoc")))
    try:
        async def finished():
            row = await (await adb.execute("SELECT state, moved FROM hand_overs WHERE associate_id = %s", (aid(leaving),))).fetchone()
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


async def test_every_hand_over_event_is_published(associate_service, associate_stub, adb):
    store = await make_store(associate_stub)
    leaving = await make_associate(associate_stub, store.name)
    successor = await make_associate(associate_stub, store.name)
    await seed_book(adb, aid(leaving), 5)
    await associate_stub.DepartAssociate(
        api.DepartAssociateRequest(name=leaving.name, successor=successor.name), metadata=md(hq()), timeout=TIMEOUT
    )

    async def all_published():
        row = await (await adb.execute(
            "SELECT count(*) FROM outbox WHERE event_type = 'atelier.associate.assignment_changed' AND published_at IS NULL"
        )).fetchone()
        return row[0] == 0

    assert await eventually(all_published)
