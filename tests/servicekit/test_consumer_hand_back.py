"""Consumers hand back what they cannot finish (audit item 27): a stopping or killed
consumer naks the messages it fetched but did not handle, so another replica takes them
at once instead of after the ack wait; slow handlers keep their messages with in-progress
acks; the ack wait itself is short."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from nats.js.api import AckPolicy, ConsumerConfig

from servicekit import event_types, outbox
from servicekit.inbox import DEFAULT_ACK_WAIT, EventConsumer
from servicekit.uow import UnitOfWork
from tests.servicekit.support import eventually
from tests.servicekit.test_events import _effects, _effects_table, _record

# Long enough that only a hand-back explains a prompt redelivery.
LONG_ACK_WAIT = 60.0


def _consumer(bus_env, durable: str, handler, **options) -> EventConsumer:
    engine, js, bus, _ = bus_env
    return EventConsumer(
        js=js,
        engine=engine,
        bus=bus,
        durable=durable,
        event_types=[event_types.CUSTOMER_DELETED],
        handler=handler,
        **options,
    )


async def _effect(uow: UnitOfWork, envelope) -> None:
    await uow.conn.execute(sa.text("INSERT INTO effects VALUES (:id, 1)"), {"id": envelope.id})


async def _published(bus_env, count: int) -> list[str]:
    engine, js, bus, url = bus_env
    await _effects_table(engine)
    ids = await _record(engine, count)
    relay = outbox.OutboxRelay(engine, js, bus, database_url=url)
    await relay.drain()
    await relay.close()
    return ids


async def test_a_stopping_consumer_hands_back_its_unhandled_messages(bus_env):
    ids = await _published(bus_env, 5)
    started, gate = asyncio.Event(), asyncio.Event()

    async def slow_first(uow: UnitOfWork, envelope) -> None:
        if envelope.id == ids[0]:
            started.set()
            await gate.wait()
        await _effect(uow, envelope)

    first = _consumer(bus_env, "test-handback", slow_first, ack_wait=LONG_ACK_WAIT, batch_size=10)
    stop = asyncio.Event()
    running = asyncio.create_task(first.run(stop))
    await asyncio.wait_for(started.wait(), 10)  # all five fetched, the first one in hand
    stop.set()
    gate.set()
    await asyncio.wait_for(running, 10)
    assert first.handled == 1 and first.handed_back == 4

    second = _consumer(bus_env, "test-handback", _effect, ack_wait=LONG_ACK_WAIT)
    stop2 = asyncio.Event()
    running2 = asyncio.create_task(second.run(stop2))
    await eventually(lambda: second.handled == 4, within=5)  # not after the 60 s ack wait
    stop2.set()
    await running2
    assert sorted(await _effects(bus_env[0])) == sorted(ids)


async def test_a_killed_consumer_hands_back_the_message_in_hand_and_the_rest(bus_env):
    ids = await _published(bus_env, 3)
    started = asyncio.Event()

    async def never_finishes(uow: UnitOfWork, envelope) -> None:
        await _effect(uow, envelope)
        started.set()
        await asyncio.Event().wait()

    first = _consumer(bus_env, "test-killed", never_finishes, ack_wait=LONG_ACK_WAIT)
    running = asyncio.create_task(first.run(asyncio.Event()))
    await asyncio.wait_for(started.wait(), 10)
    running.cancel()  # the runtime cancels consumers that outlive the shutdown grace
    await asyncio.gather(running, return_exceptions=True)
    assert first.handed_back == 3

    second = _consumer(bus_env, "test-killed", _effect, ack_wait=LONG_ACK_WAIT)
    stop = asyncio.Event()
    running2 = asyncio.create_task(second.run(stop))
    await eventually(lambda: second.handled == 3, within=5)
    stop.set()
    await running2
    # The cancelled handler's transaction rolled back: each effect exactly once.
    assert sorted(await _effects(bus_env[0])) == sorted(ids)


async def test_slow_handlers_keep_their_batch_with_in_progress_acks(bus_env):
    ids = await _published(bus_env, 3)
    deliveries: dict[str, int] = {}

    async def slow(uow: UnitOfWork, envelope) -> None:
        deliveries[envelope.id] = deliveries.get(envelope.id, 0) + 1
        await asyncio.sleep(1.5)  # each longer than the ack wait, the batch three times it
        await _effect(uow, envelope)

    consumer = _consumer(bus_env, "test-progress", slow, ack_wait=1.0)
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    await eventually(lambda: consumer.handled == 3, within=20)
    await asyncio.sleep(1.5)  # a redelivery would show up now
    stop.set()
    await running
    assert consumer.skipped_duplicates == 0
    assert deliveries == dict.fromkeys(ids, 1)


async def test_the_ack_wait_is_short_and_applied_to_an_existing_consumer(bus_env):
    _, js, bus, _ = bus_env
    assert DEFAULT_ACK_WAIT <= 10
    # A durable consumer created by an earlier release with the old 30 s ack wait.
    await js.add_consumer(
        bus.stream,
        ConsumerConfig(
            durable_name="test-upgrade",
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=30,
            filter_subject=f"{bus.prefix}.customer.>",
        ),
    )
    consumer = _consumer(bus_env, "test-upgrade", _effect)
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    await eventually(lambda: _ack_wait(js, bus.stream, "test-upgrade", DEFAULT_ACK_WAIT))
    stop.set()
    await running


async def _ack_wait(js, stream: str, durable: str, expected: float) -> bool:
    info = await js.consumer_info(stream, durable)
    return info.config.ack_wait == expected
