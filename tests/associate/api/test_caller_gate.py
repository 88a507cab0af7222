"""The caller gate over gRPC against the real database (audit item 7): a departed or
suspended member of staff can do nothing in this service, on any of its three APIs,
within seconds of the change; nor can one moved to another store or no longer a manager
with her old token."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from atelier.associate.v1 import (
    associate_pb2,
    associate_service_pb2_grpc,
    performance_service_pb2_grpc,
    task_service_pb2_grpc,
)
from atelier.associate.v1 import associate_service_pb2 as api
from atelier.associate.v1 import performance_service_pb2 as perf_api
from atelier.associate.v1 import task_service_pb2 as task_api
from servicekit.auth import Principal, Role
from servicekit.callers import CallerGate
from servicekit.errors import PermissionDenied
from servicekit.uow import Transactions
from services.associate.usecases.callers import standings
from tests.conftest import associate, hq, manager

from ..support import MANAGER, TIMEOUT, aid, error_info, make_associate, make_store, mask, md, rpc_error, ts

# The gate's promise: a change of standing shows on every call within this many seconds.
WITHIN = CallerGate.MAX_TTL + 0.5


def _calls(channel: grpc.aio.Channel, me, store: str):
    """One RPC of each API of the service, as `me`."""
    stub = associate_service_pb2_grpc.AssociateServiceStub(channel)
    tasks = task_service_pb2_grpc.TaskServiceStub(channel)
    figures = performance_service_pb2_grpc.PerformanceServiceStub(channel)
    now = datetime.now(UTC)
    return [
        lambda: stub.GetStore(api.GetStoreRequest(name=store), metadata=md(me), timeout=TIMEOUT),
        lambda: stub.ListStores(api.ListStoresRequest(), metadata=md(me), timeout=TIMEOUT),
        lambda: stub.ListClaims(api.ListClaimsRequest(), metadata=md(me), timeout=TIMEOUT),
        lambda: tasks.ListTasks(task_api.ListTasksRequest(), metadata=md(me), timeout=TIMEOUT),
        lambda: figures.ListAttributions(
            perf_api.ListAttributionsRequest(start_time=ts(now - timedelta(days=1)), end_time=ts(now)),
            metadata=md(me),
            timeout=TIMEOUT,
        ),
    ]


async def _refused_everywhere(calls, reason: str) -> float:
    """Seconds until every call answers PERMISSION_DENIED with `reason` (fails after WITHIN)."""
    start = time.monotonic()
    while True:
        reasons = []
        for call in calls:
            try:
                await call()
                reasons.append("")
            except grpc.aio.AioRpcError as exc:
                reasons.append(error_info(exc).reason if exc.code() == grpc.StatusCode.PERMISSION_DENIED else "")
        elapsed = time.monotonic() - start
        if reasons == [reason] * len(calls):
            return elapsed
        assert elapsed < WITHIN, f"still answered after {elapsed:.1f}s: {reasons}"
        await asyncio.sleep(0.1)


async def _served_everywhere(calls) -> None:
    start = time.monotonic()
    while True:
        try:
            for call in calls:
                await call()
            return
        except grpc.aio.AioRpcError:
            assert time.monotonic() - start < WITHIN
            await asyncio.sleep(0.1)


async def _set(stub, member: associate_pb2.Associate, path: str, **value) -> associate_pb2.Associate:
    return await stub.UpdateAssociate(
        api.UpdateAssociateRequest(
            associate=associate_pb2.Associate(name=member.name, **value), update_mask=mask(path)
        ),
        metadata=md(hq()),
        timeout=TIMEOUT,
    )


async def test_a_suspended_then_departed_associate_can_do_nothing(associate_service, associate_stub):
    store = await make_store(associate_stub)
    member = await make_associate(associate_stub, store.name)
    channel = associate_service.channel()
    calls = _calls(channel, associate(store.name, aid(member)), store.name)
    try:
        await _served_everywhere(calls)
        await _set(associate_stub, member, "status", status=associate_pb2.ASSOCIATE_STATUS_ON_LEAVE)
        await _refused_everywhere(calls, "CALLER_INACTIVE")
        await _set(associate_stub, member, "status", status=associate_pb2.ASSOCIATE_STATUS_ACTIVE)
        await _served_everywhere(calls)  # back from leave
        await associate_stub.DepartAssociate(
            api.DepartAssociateRequest(name=member.name), metadata=md(manager(store.name)), timeout=TIMEOUT
        )
        await _refused_everywhere(calls, "CALLER_INACTIVE")
        # Writes too: a departed associate claims nobody.
        exc = await rpc_error(
            associate_stub.ClaimClient(
                api.ClaimClientRequest(), metadata=md(associate(store.name, aid(member))), timeout=TIMEOUT
            )
        )
        assert exc.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await channel.close()


async def test_an_old_token_of_a_moved_associate_or_a_former_manager_is_refused(associate_service, associate_stub):
    paris, milan = await make_store(associate_stub), await make_store(associate_stub)
    member = await make_associate(associate_stub, paris.name)
    boss = await make_associate(associate_stub, paris.name, role=MANAGER)
    channel = associate_service.channel()
    old_token = _calls(channel, associate(paris.name, aid(member)), paris.name)
    boss_token = _calls(channel, Principal(f"associates/{aid(boss)}", Role.MANAGER, aid(boss), paris.name), paris.name)
    try:
        await _served_everywhere([*old_token, *boss_token])
        await _set(associate_stub, member, "store", store=milan.name)
        await _refused_everywhere(old_token, "CALLER_STORE_CHANGED")
        await _served_everywhere(_calls(channel, associate(milan.name, aid(member)), milan.name))
        await _set(associate_stub, boss, "role", role=associate_pb2.STAFF_ROLE_ASSOCIATE)
        await _refused_everywhere(boss_token, "CALLER_ROLE_CHANGED")
        # As an associate she still works.
        await _served_everywhere(_calls(channel, associate(paris.name, aid(boss)), paris.name))
    finally:
        await channel.close()


async def test_the_gate_reads_a_standing_once_per_ttl(associate_service, associate_stub, adb):
    """The hot path does not read the database on every call, and a change shows once the
    cached standing is older than the ttl (the ttl's bound: tests/servicekit/test_callers.py)."""
    store = await make_store(associate_stub)
    member = await make_associate(associate_stub, store.name)
    now = [100.0]
    gate = CallerGate(standings(Transactions(associate_service.runtime.engine)), ttl=1.0, clock=lambda: now[0])
    me = associate(store.name, aid(member))
    await gate(me)
    await adb.execute("UPDATE associates SET status = 3 WHERE id = %s", (aid(member),))
    now[0] += 0.9
    await gate(me)  # still the cached standing
    now[0] += 0.2
    with pytest.raises(PermissionDenied) as refused:
        await gate(me)
    assert refused.value.reason == "CALLER_INACTIVE"
    # Callers without an associate id, and ids without a record, pass as before.
    await gate(hq())
    await gate(associate(store.name, "nobody-here"))
