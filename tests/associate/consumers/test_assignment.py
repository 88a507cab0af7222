"""The `assignment` consumer: customer events bind her (referral, creator, store rule,
pool, QR scans), each change with its history and event; a redelivery changes nothing."""

from __future__ import annotations

from atelier.associate.v1 import associate_service_pb2 as api
from atelier.events.v1 import associate_events_pb2 as ev
from tests.conftest import associate, hq, manager

from ..support import (
    TIMEOUT,
    aid,
    assignment_events,
    bound,
    customer_created,
    denied_reason,
    eventually,
    make_associate,
    make_store,
    md,
    primary_of,
    publish,
    qr_scan,
    uid,
)

Reason = ev.AssignmentReason


async def test_referral_code_on_customer_created_binds_her(associate_service, associate_stub, adb):
    store = await make_store(associate_stub)
    await make_associate(associate_stub, store.name)  # would win the store rule
    referrer = await make_associate(associate_stub, store.name)
    cid = f"c-{uid()}"
    await publish(associate_service, customer_created(cid, store.name, referral_code=referrer.referral_code.lower()))
    assert await bound(adb, cid) == (aid(referrer), Reason.ASSIGNMENT_REASON_REFERRAL)
    got = await associate_stub.GetAssociate(
        api.GetAssociateRequest(name=referrer.name), metadata=md(hq()), timeout=TIMEOUT
    )
    assert got.book_size == 1
    payload = await eventually(lambda: _last_assignment_event(adb, cid))
    assert payload.associate == referrer.name and payload.previous_associate == ""
    assert payload.store == store.name and payload.reason == Reason.ASSIGNMENT_REASON_REFERRAL


async def _last_assignment_event(adb, customer_id: str):
    for payload in reversed(await assignment_events(adb)):
        if payload.customer == f"customers/{customer_id}":
            return payload
    return None


async def test_customer_created_on_an_associates_tablet_is_her_referral(associate_service, associate_stub, adb):
    store = await make_store(associate_stub)
    await make_associate(associate_stub, store.name, associate_id=f"a-{uid()}")
    creator = await make_associate(associate_stub, store.name)
    cid = f"c-{uid()}"
    await publish(associate_service, customer_created(cid, store.name, actor=creator.name))
    assert await bound(adb, cid) == (aid(creator), Reason.ASSIGNMENT_REASON_REFERRAL)


async def test_least_loaded_with_deterministic_ties(associate_service, associate_stub, adb):
    store = await make_store(associate_stub)
    base = uid()
    a = await make_associate(associate_stub, store.name, capacity=10, associate_id=f"a-{base}-1")
    b = await make_associate(associate_stub, store.name, capacity=10, associate_id=f"a-{base}-2")
    c = await make_associate(associate_stub, store.name, capacity=20, associate_id=f"a-{base}-3")
    # Someone on leave or departed never receives clients.
    await make_associate(associate_stub, store.name, capacity=1000, associate_id=f"a-{base}-0", status=2)
    cids = [f"c-{base}-{i}" for i in range(5)]
    await publish(associate_service, *(customer_created(x, store.name) for x in cids))
    got = [await bound(adb, x) for x in cids]
    # loads: (0,0,0)→a; (.1,0,0)→b; (.1,.1,0)→c; (.1,.1,.05)→c; (.1,.1,.1)→a
    assert [g[0] for g in got] == [aid(a), aid(b), aid(c), aid(c), aid(a)]
    assert {g[1] for g in got} == {Reason.ASSIGNMENT_REASON_STORE_RULE}


async def _pool(stub, principal) -> list[str]:
    names, token = [], ""
    while True:
        page = await stub.ListUnassigned(
            api.ListUnassignedRequest(page_size=200, page_token=token), metadata=md(principal), timeout=TIMEOUT
        )
        names += [x.name for x in page.assignments]
        token = page.next_page_token
        if not token:
            return names


async def _pooled(adb, cid):
    async def pooled():
        return await (await adb.execute("SELECT reason FROM hq_pool WHERE customer_id = %s", (cid,))).fetchone()

    return (await eventually(pooled))[0]


async def test_no_home_store_goes_to_the_hq_pool(associate_service, associate_stub, adb):
    cid = f"c-{uid()}"
    await publish(associate_service, customer_created(cid, ""))
    assert await _pooled(adb, cid) == Reason.ASSIGNMENT_REASON_HQ_POOL
    store = await make_store(associate_stub)
    assert f"customers/{cid}/assignment" in await _pool(associate_stub, hq())
    # She belongs to no store: no manager sees her (audit item 10) or places her (item 1).
    assert f"customers/{cid}/assignment" not in await _pool(associate_stub, manager(store.name))
    reason = await denied_reason(
        associate_stub.ListUnassigned(
            api.ListUnassignedRequest(), metadata=md(associate(store.name, "a-x")), timeout=TIMEOUT
        )
    )
    assert reason == "ROLE_DENIED"
    got = await associate_stub.GetCustomerAssignment(
        api.GetCustomerAssignmentRequest(name=f"customers/{cid}/assignment"), metadata=md(hq()), timeout=TIMEOUT
    )
    assert got.in_pool and not got.primary_associate
    mine = await make_associate(associate_stub, store.name)
    request = api.TransferClientRequest(
        name=f"customers/{cid}/assignment", associate=mine.name, reason="visited the boutique"
    )
    denied = await denied_reason(
        associate_stub.TransferClient(request, metadata=md(manager(store.name)), timeout=TIMEOUT)
    )
    assert denied == "ROLE_DENIED"
    placed = await associate_stub.TransferClient(request, metadata=md(hq()), timeout=TIMEOUT)
    assert placed.primary_associate == mine.name and not placed.in_pool
    assert (await (await adb.execute("SELECT count(*) FROM hq_pool WHERE customer_id = %s", (cid,))).fetchone())[0] == 0


async def test_a_store_without_anyone_taking_clients_pools_her_for_its_manager(associate_service, associate_stub, adb):
    store, elsewhere = await make_store(associate_stub), await make_store(associate_stub)
    await make_associate(associate_stub, store.name, capacity=0)  # takes no new clients from the rule
    cid = f"c-{uid()}"
    await publish(associate_service, customer_created(cid, store.name))
    assert await _pooled(adb, cid) == Reason.ASSIGNMENT_REASON_HQ_POOL
    assert f"customers/{cid}/assignment" in await _pool(associate_stub, manager(store.name))
    assert f"customers/{cid}/assignment" not in await _pool(associate_stub, manager(elsewhere.name))
    # Her store's manager places her from the queue with one of her associates.
    mine = await make_associate(associate_stub, store.name)
    placed = await associate_stub.TransferClient(
        api.TransferClientRequest(
            name=f"customers/{cid}/assignment", associate=mine.name, reason="visited the boutique"
        ),
        metadata=md(manager(store.name)),
        timeout=TIMEOUT,
    )
    assert placed.primary_associate == mine.name and not placed.in_pool
    assert f"customers/{cid}/assignment" not in await _pool(associate_stub, manager(store.name))


async def test_qr_scan_binds_over_the_store_rule_but_not_over_a_referral(associate_service, associate_stub, adb):
    store = await make_store(associate_stub)
    base = uid()
    first = await make_associate(associate_stub, store.name, associate_id=f"a-{base}-1")
    scanned = await make_associate(associate_stub, store.name, associate_id=f"a-{base}-2")
    ruled, referred = f"c-{base}-r", f"c-{base}-f"
    await publish(
        associate_service,
        customer_created(ruled, store.name),
        customer_created(referred, store.name, referral_code=first.referral_code),
    )
    assert (await bound(adb, ruled))[0] == aid(first)
    assert (await bound(adb, referred))[0] == aid(first)
    await publish(associate_service, qr_scan(ruled, scanned.referral_code), qr_scan(referred, scanned.referral_code))

    async def rebound():
        row = await primary_of(adb, ruled)
        return row if row[0] == aid(scanned) else None

    assert (await eventually(rebound))[1] == Reason.ASSIGNMENT_REASON_REFERRAL
    # The scans are handled in order, so the referred customer's scan has been too.
    assert (await primary_of(adb, referred))[0] == aid(first)


async def _scan_tasks(adb, cid: str) -> list:
    return await (
        await adb.execute(
            "SELECT associate_id, store_id, rule, title FROM tasks WHERE customer_id = %s AND rule = 'scan_elsewhere'",
            (cid,),
        )
    ).fetchall()


async def test_a_scan_of_another_stores_card_moves_nobody_and_tells_her_stores_manager(
    associate_service, associate_stub, adb
):
    """Audit item 5: a rule-placed customer (and a pool customer) of one store scanning
    the card of another store's associate stays where she is; the manager of her store
    finds a task about it in the store's queue."""
    paris, milan = await make_store(associate_stub), await make_store(associate_stub)
    holder = await make_associate(associate_stub, paris.name)
    stranger = await make_associate(associate_stub, milan.name)
    ruled = f"c-{uid()}"
    await publish(associate_service, customer_created(ruled, paris.name))
    assert await bound(adb, ruled) == (aid(holder), Reason.ASSIGNMENT_REASON_STORE_RULE)
    await publish(associate_service, qr_scan(ruled, stranger.referral_code))
    tasks = await eventually(lambda: _scan_tasks(adb, ruled))
    assert [(a, s) for a, s, _, _ in tasks] == [("", paris.name.split("/")[1])]
    assert stranger.name in tasks[0][3]
    assert await primary_of(adb, ruled) == (aid(holder), Reason.ASSIGNMENT_REASON_STORE_RULE)

    pooled_store = await make_store(associate_stub)  # nobody there takes clients
    pooled = f"c-{uid()}"
    await publish(
        associate_service, customer_created(pooled, pooled_store.name), qr_scan(pooled, stranger.referral_code)
    )
    assert [s for _, s, _, _ in await eventually(lambda: _scan_tasks(adb, pooled))] == [pooled_store.name.split("/")[1]]
    assert await primary_of(adb, pooled) is None


async def test_a_scan_for_a_customer_the_service_never_heard_of_plants_nothing(associate_service, associate_stub, adb):
    store = await make_store(associate_stub)
    scanned = await make_associate(associate_stub, store.name)
    nobody = f"c-{uid()}"
    await publish(associate_service, qr_scan(nobody, scanned.referral_code))
    marker = f"c-{uid()}"
    await publish(associate_service, customer_created(marker, store.name, referral_code=scanned.referral_code))
    await bound(adb, marker)  # handled after the scan, on the same ordered consumer
    assert await primary_of(adb, nobody) is None
    assert await _scan_tasks(adb, nobody) == []


async def test_a_redelivered_customer_event_changes_nothing(associate_service, associate_stub, adb):
    store = await make_store(associate_stub)
    holder = await make_associate(associate_stub, store.name)
    cid = f"c-{uid()}"
    event = customer_created(cid, store.name, referral_code=holder.referral_code)
    await publish(associate_service, event)
    await bound(adb, cid)
    # The same event again past the stream's dedupe (another message id): the inbox holds.
    runtime = associate_service.runtime
    await runtime.js.publish(runtime.bus.subject(event.type), event.SerializeToString(), headers={"Nats-Msg-Id": uid()})
    marker = f"c-{uid()}"
    await publish(associate_service, customer_created(marker, store.name, referral_code=holder.referral_code))
    await bound(adb, marker)  # handled after the duplicate, on the same ordered consumer
    got = await associate_stub.GetAssociate(
        api.GetAssociateRequest(name=holder.name), metadata=md(hq()), timeout=TIMEOUT
    )
    assert got.book_size == 2
    history = await (
        await adb.execute("SELECT count(*) FROM assignment_history WHERE customer_id = %s", (cid,))
    ).fetchone()
    assert history[0] == 1
