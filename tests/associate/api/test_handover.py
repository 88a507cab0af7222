"""DepartAssociate: the whole book handed over in one step, one event per customer,
moved by load or to a named successor, idempotent; who may hand a book over."""

from __future__ import annotations

import grpc

from atelier.associate.v1 import assignment_pb2, associate_pb2
from atelier.associate.v1 import associate_service_pb2 as api
from atelier.events.v1 import associate_events_pb2 as ev
from servicekit import event_types
from tests.conftest import associate, hq, manager

from ..support import (
    TIMEOUT,
    aid,
    denied_reason,
    eventually,
    hand_over_events,
    holders,
    make_associate,
    make_store,
    md,
    rpc_error,
    seed_book,
    uid,
)

HAND_OVER = ev.AssignmentReason.ASSIGNMENT_REASON_HAND_OVER


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
    task_owner = (
        await (await adb.execute("SELECT associate_id FROM tasks WHERE customer_id = %s", (book[0],))).fetchone()
    )[0]
    assert task_owner == aid(successor)
    sizes = {
        a: (await associate_stub.GetAssociate(api.GetAssociateRequest(name=a), metadata=md(hq()), timeout=TIMEOUT))
        for a in (leaving.name, successor.name)
    }
    assert sizes[leaving.name].book_size == 0 and sizes[leaving.name].status == associate_pb2.ASSOCIATE_STATUS_DEPARTED
    assert sizes[successor.name].book_size == 30

    before = (await (await adb.execute("SELECT count(*) FROM outbox")).fetchone())[0]
    again = await associate_stub.DepartAssociate(request, metadata=md(manager(store.name)), timeout=TIMEOUT)
    assert again == done
    assert (await (await adb.execute("SELECT count(*) FROM outbox")).fetchone())[0] == before
    history = await (
        await adb.execute(
            "SELECT count(*) FROM assignment_history WHERE previous_associate = %s AND reason = %s",
            (aid(leaving), HAND_OVER),
        )
    ).fetchone()
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
    await associate_stub.DepartAssociate(
        api.DepartAssociateRequest(name=leaving.name), metadata=md(hq()), timeout=TIMEOUT
    )
    pooled = await (await adb.execute("SELECT count(*) FROM hq_pool WHERE customer_id = ANY(%s)", (book,))).fetchone()
    assert pooled[0] == 3
    assert {e.associate for e in await hand_over_events(adb, aid(leaving))} == {""}


async def test_depart_role_denials_and_validation(associate_stub):
    store, other = await make_store(associate_stub), await make_store(associate_stub)
    leaving = await make_associate(associate_stub, store.name)
    elsewhere = await make_associate(associate_stub, other.name)
    request = api.DepartAssociateRequest(name=leaving.name)
    assert (
        await denied_reason(
            associate_stub.DepartAssociate(request, metadata=md(associate(store.name, aid(leaving))), timeout=TIMEOUT)
        )
        == "ROLE_DENIED"
    )
    assert (
        await denied_reason(associate_stub.DepartAssociate(request, metadata=md(manager(other.name)), timeout=TIMEOUT))
        == "ROLE_DENIED"
    )
    # A manager hands a book only within her store.
    assert (
        await denied_reason(
            associate_stub.DepartAssociate(
                api.DepartAssociateRequest(name=leaving.name, successor=elsewhere.name),
                metadata=md(manager(store.name)),
                timeout=TIMEOUT,
            )
        )
        == "ROLE_DENIED"
    )
    exc = await rpc_error(
        associate_stub.DepartAssociate(
            api.DepartAssociateRequest(name=leaving.name, successor=leaving.name), metadata=md(hq()), timeout=TIMEOUT
        )
    )
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    got = await associate_stub.GetAssociate(
        api.GetAssociateRequest(name=leaving.name), metadata=md(hq()), timeout=TIMEOUT
    )
    assert got.status == associate_pb2.ASSOCIATE_STATUS_ACTIVE


async def test_every_hand_over_event_is_published(associate_service, associate_stub, adb):
    store = await make_store(associate_stub)
    leaving = await make_associate(associate_stub, store.name)
    successor = await make_associate(associate_stub, store.name)
    await seed_book(adb, aid(leaving), 5)
    await associate_stub.DepartAssociate(
        api.DepartAssociateRequest(name=leaving.name, successor=successor.name), metadata=md(hq()), timeout=TIMEOUT
    )

    async def all_published():
        row = await (
            await adb.execute(
                "SELECT count(*) FROM outbox WHERE event_type = %s AND published_at IS NULL",
                (event_types.ASSIGNMENT_CHANGED,),
            )
        ).fetchone()
        return row[0] == 0

    assert await eventually(all_published)
