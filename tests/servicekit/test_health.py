"""What health means (audit item 29; servicekit.server's docstring): SERVING once the
migrations are applied and the database answers, before any call is answered; NATS being
down does not make a replica unready (the outbox holds the events) but shows on the
`atelier.events` health name."""

from __future__ import annotations

import asyncio
import contextlib

import grpc
import sqlalchemy as sa

from atelier.customer.v1 import customer_pb2, customer_service_pb2_grpc
from atelier.customer.v1 import customer_service_pb2 as api
from servicekit.server import EVENTS_HEALTH, NOT_SERVING, SERVING
from tests.conftest import hq, metadata_for
from tests.servicekit.support import (
    GRPC_SERVICES,
    build,
    eventually,
    free_port,
    health_status,
    kit_config,
    migrated_database,
    private_nats,
)


async def test_the_first_answer_a_replica_gives_is_serving(infra):
    port = free_port()
    config = kit_config(infra, await migrated_database(infra, "ready"), grpc_address=f"127.0.0.1:{port}")
    runtime, _, register = build(config)
    answers: list[tuple[str, int]] = []
    started = asyncio.Event()

    async def probe() -> None:
        """Ask health and call an RPC over and over while the replica starts."""
        address = f"127.0.0.1:{port}"
        md = metadata_for(hq())
        while not started.is_set() or len(answers) < 10:
            with contextlib.suppress(grpc.aio.AioRpcError):  # not listening yet
                answers.append(("health", await health_status(address, within=0.5)))
            try:
                async with grpc.aio.insecure_channel(address) as channel:
                    stub = customer_service_pb2_grpc.CustomerServiceStub(channel)
                    await stub.GetCustomer(api.GetCustomerRequest(name="x"), metadata=md, timeout=0.5)
                answers.append(("rpc", SERVING))
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.01)

    prober = asyncio.create_task(probe())
    await asyncio.sleep(0.2)  # the prober is knocking before the replica exists
    try:
        await runtime.start(register)
        started.set()
        await asyncio.wait_for(prober, 20)
    finally:
        await runtime.stop()
    health = [status for kind, status in answers if kind == "health"]
    assert health and ("rpc", SERVING) in answers, answers
    # From the first answer on, health says SERVING: no window where the replica answers
    # calls while reporting NOT_SERVING (events still connecting do not count).
    assert set(health) == {SERVING}, answers


async def test_nats_down_leaves_the_replica_serving_and_shows_on_the_events_name(infra):
    url = await migrated_database(infra, "natsless")
    with private_nats() as nats_server:  # not started: NATS is down when the replica starts
        config = kit_config(infra, url, nats_url=f"nats://127.0.0.1:{nats_server.port}")
        runtime, _, register = build(config, events_wait=0.5)
        port = await runtime.start(register)  # returns although NATS does not answer
        address = f"127.0.0.1:{port}"
        try:
            assert await health_status(address) == SERVING
            for name in GRPC_SERVICES:
                assert await health_status(address, name) == SERVING
            assert await health_status(address, EVENTS_HEALTH) == NOT_SERVING
            # Writes succeed: their events wait in the outbox.
            async with grpc.aio.insecure_channel(address) as channel:
                stub = customer_service_pb2_grpc.CustomerServiceStub(channel)
                person = customer_pb2.Customer(
                    given_name="Ann",
                    contact_points=[{"kind": customer_pb2.CONTACT_KIND_EMAIL, "value": "ann@nats-down.example"}],
                )
                await stub.CreateCustomer(
                    api.CreateCustomerRequest(customer=person), metadata=metadata_for(hq()), timeout=5
                )
            assert await _pending(runtime) == 1
            # NATS comes up: events flow, the held event goes out, health says so.
            await asyncio.to_thread(nats_server.start)
            await eventually(lambda: _status_is(address, EVENTS_HEALTH, SERVING), within=20)
            await eventually(lambda: _no_pending(runtime), within=20)
            assert await health_status(address) == SERVING
        finally:
            await runtime.stop()


async def test_with_nats_up_start_returns_with_events_flowing(kit):
    assert kit.runtime.js is not None and kit.runtime.relay is not None
    assert kit.runtime.events_flowing()


async def test_shutdown_turns_not_serving_before_the_server_stops(kit):
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    seen: list[int] = []
    watch = health_pb2_grpc.HealthStub(kit.channel).Watch(health_pb2.HealthCheckRequest(service=""))
    first = await watch.read()
    seen.append(first.status)
    stopping = asyncio.create_task(kit.runtime.stop())
    try:
        update = await asyncio.wait_for(watch.read(), 10)
        seen.append(update.status)
    finally:
        watch.cancel()
        await stopping
    assert seen == [SERVING, NOT_SERVING]


async def _status_is(address: str, service: str, expected: int) -> bool:
    return await health_status(address, service) == expected


async def _pending(runtime) -> int:
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(sa.text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))).scalar())


async def _no_pending(runtime) -> bool:
    return await _pending(runtime) == 0
