"""Events end to end against real PostgreSQL and NATS JetStream: the outbox relay, its
dedupe after a crash, and consumers applying each event once."""

from __future__ import annotations

import asyncio

import nats
import pytest
import sqlalchemy as sa
from nats.js.api import ConsumerConfig, DeliverPolicy

from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from atelier.events.v1 import customer_events_pb2, envelope_pb2
from servicekit import event_types, events, outbox
from servicekit.inbox import EventConsumer, PoisonEvent
from servicekit.uow import UnitOfWork
from tests.conftest import hq, metadata_for
from tests.customer.support import known_store


def _envelope(i: int) -> envelope_pb2.EventEnvelope:
    return events.new_envelope(
        event_type=event_types.CUSTOMER_DELETED,
        source="test",
        subject=f"customers/c-{i}",
        payload=customer_events_pb2.CustomerDeleted(customer=f"customers/c-{i}"),
        actor="test",
    )


async def _record(engine, count: int) -> list[str]:
    envelopes = [_envelope(i) for i in range(count)]
    async with engine.begin() as conn:
        await outbox.record(conn, *envelopes)
    return [e.id for e in envelopes]


async def _stream_ids(js, bus) -> list[str]:
    """Every event id in the stream, in order, read with an ephemeral consumer."""
    info = await js.stream_info(bus.stream)
    total = info.state.messages
    sub = await js.pull_subscribe(
        bus.all_subjects, stream=bus.stream, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    )
    ids: list[str] = []
    while len(ids) < total:
        for msg in await sub.fetch(min(500, total - len(ids)), timeout=5):
            ids.append(envelope_pb2.EventEnvelope.FromString(msg.data).id)
            await msg.ack()
    await sub.unsubscribe()
    return ids


async def _pending(engine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(sa.text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))).scalar()


async def test_relay_publishes_each_event_once_with_msg_id(bus_env):
    engine, js, bus, url = bus_env
    ids = await _record(engine, 250)
    relay = outbox.OutboxRelay(engine, js, bus, database_url=url, batch_size=100)
    assert await relay.drain() == 250
    assert await _pending(engine) == 0
    assert await _stream_ids(js, bus) == ids


class _CrashAfterAck(outbox.OutboxRelay):
    """Publishes a batch, gets the acks, then dies before marking the rows sent."""

    async def _publish(self, rows):
        await super()._publish(rows)
        raise RuntimeError("relay killed between ack and mark")


async def test_relay_crash_after_publish_is_deduplicated_on_restart(bus_env):
    engine, js, bus, url = bus_env
    ids = await _record(engine, 120)
    with pytest.raises(RuntimeError):
        await _CrashAfterAck(engine, js, bus, database_url=url, batch_size=50).drain()
    # The first batch reached the stream but its rows are still pending in the outbox.
    assert (await js.stream_info(bus.stream)).state.messages == 50
    assert await _pending(engine) == 120
    restarted = outbox.OutboxRelay(engine, js, bus, database_url=url, batch_size=50)
    assert await restarted.drain() == 120
    assert await _stream_ids(js, bus) == ids  # 50 re-published, deduplicated by Nats-Msg-Id


async def test_relay_cancelled_mid_publish_loses_and_duplicates_nothing(bus_env):
    engine, js, bus, url = bus_env
    ids = await _record(engine, 3000)
    stop = asyncio.Event()
    first = outbox.OutboxRelay(engine, js, bus, database_url=url, batch_size=200)
    task = asyncio.create_task(first.run(stop))
    for _ in range(2000):
        if (await js.stream_info(bus.stream)).state.messages:
            break
        await asyncio.sleep(0.005)
    task.cancel()  # killed wherever it stands: mid-batch, between ack and mark, ...
    with pytest.raises(asyncio.CancelledError):
        await task
    second = outbox.OutboxRelay(engine, js, bus, database_url=url, batch_size=200)
    await second.drain()
    assert await _pending(engine) == 0
    assert sorted(await _stream_ids(js, bus)) == sorted(ids)


async def test_relay_wakes_on_notify(bus_env):
    engine, js, bus, url = bus_env
    stop = asyncio.Event()
    # A long poll interval: only the NOTIFY can wake it in time.
    relay = outbox.OutboxRelay(engine, js, bus, database_url=url, poll_interval=60)
    task = asyncio.create_task(relay.run(stop))
    await asyncio.sleep(0.5)  # let it LISTEN
    ids = await _record(engine, 3)
    for _ in range(100):
        if relay.published == 3:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert relay.published == 3
    assert await _stream_ids(js, bus) == ids


async def _effects_table(engine) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE IF NOT EXISTS effects (event_id text, n int)"))


async def _effects(engine) -> list[str]:
    async with engine.connect() as conn:
        return [r.event_id for r in await conn.execute(sa.text("SELECT event_id FROM effects"))]


async def _apply_effect(uow: UnitOfWork, envelope):
    await uow.conn.execute(sa.text("INSERT INTO effects VALUES (:id, 1)"), {"id": envelope.id})


class _AckLostOnce(EventConsumer):
    """Applies the first delivery but 'crashes' before acknowledging it."""

    dropped = False

    async def _process(self, msg):
        if not self.dropped:
            self.dropped = True
            await self.apply(envelope_pb2.EventEnvelope.FromString(msg.data))
            return  # no ack: JetStream redelivers after ack_wait
        await super()._process(msg)


async def test_redelivered_event_is_applied_once(bus_env):
    engine, js, bus, url = bus_env
    await _effects_table(engine)
    consumer = _AckLostOnce(
        js=js,
        engine=engine,
        bus=bus,
        durable="test-redelivery",
        event_types=[event_types.CUSTOMER_DELETED],
        handler=_apply_effect,
        ack_wait=1.0,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    ids = await _record(engine, 1)
    await outbox.OutboxRelay(engine, js, bus, database_url=url).drain()
    for _ in range(200):
        if consumer.skipped_duplicates == 1:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert consumer.skipped_duplicates == 1  # the redelivery arrived and changed nothing
    assert await _effects(engine) == ids


async def test_failing_handler_is_retried_and_poison_is_terminated(bus_env):
    engine, js, bus, url = bus_env
    await _effects_table(engine)
    attempts: dict[str, int] = {}
    ids = await _record(engine, 2)
    poison_id = ids[1]

    async def flaky(uow: UnitOfWork, envelope):
        attempts[envelope.id] = attempts.get(envelope.id, 0) + 1
        if envelope.id == poison_id:
            raise PoisonEvent("cannot apply")
        if attempts[envelope.id] < 3:
            raise RuntimeError("transient")
        await _apply_effect(uow, envelope)

    consumer = EventConsumer(
        js=js,
        engine=engine,
        bus=bus,
        durable="test-retry",
        event_types=[event_types.CUSTOMER_DELETED],
        handler=flaky,
        backoff=[0.1, 0.2],
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    await outbox.OutboxRelay(engine, js, bus, database_url=url).drain()
    for _ in range(200):
        if consumer.handled == 1 and consumer.terminated == 1:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert attempts[ids[0]] == 3 and consumer.handled == 1
    assert attempts[poison_id] == 1 and consumer.terminated == 1
    assert await _effects(engine) == [ids[0]]


async def test_customer_changes_emit_one_event_each(customer_service, customer_stub, infra):
    runtime = customer_service.runtime
    bus = runtime.bus
    nc = await nats.connect(infra.nats_url)
    js = nc.jetstream()
    # Subscribed before the changes, from new messages on: only this test's events count.
    sub = await js.pull_subscribe(
        f"{bus.prefix}.customer.>", stream=bus.stream, config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW)
    )
    md = metadata_for(hq())
    store = await known_store(customer_service)  # the customer service checks home stores against its directory
    created = await customer_stub.CreateCustomer(
        api.CreateCustomerRequest(customer=customer_pb2.Customer(given_name="Events", home_store=store)),
        metadata=md,
        timeout=10,
    )
    created.given_name = "Evented"
    await customer_stub.UpdateCustomer(
        api.UpdateCustomerRequest(customer=created, update_mask={"paths": ["given_name"]}), metadata=md, timeout=10
    )
    consent = dict(name=created.name, channel=1, purpose=1, source="test")
    await customer_stub.GrantConsent(api.GrantConsentRequest(**consent), metadata=md, timeout=10)
    await customer_stub.GrantConsent(api.GrantConsentRequest(**consent), metadata=md, timeout=10)  # no change
    await customer_stub.DeleteCustomer(api.DeleteCustomerRequest(name=created.name), metadata=md, timeout=10)

    seen: list[envelope_pb2.EventEnvelope] = []
    for _ in range(100):
        try:
            batch = await sub.fetch(100, timeout=0.5)
        except nats.errors.TimeoutError:
            batch = []
        seen += [e for e in (envelope_pb2.EventEnvelope.FromString(m.data) for m in batch) if e.subject == created.name]
        if len(seen) >= 4:
            break
    await nc.drain()
    assert [e.type for e in seen] == [
        event_types.CUSTOMER_CREATED,
        event_types.CUSTOMER_UPDATED,
        event_types.CUSTOMER_CONSENT_CHANGED,
        event_types.CUSTOMER_DELETED,
    ]
    assert all(e.source == "customer" and e.actor == "staff/hq-1" for e in seen)
    assert seen[0].trace_context.get("traceparent")
    updated = events.unpack(seen[1], customer_events_pb2.CustomerUpdated)
    assert updated.customer.given_name == "Evented" and list(updated.update_mask.paths) == ["given_name"]
