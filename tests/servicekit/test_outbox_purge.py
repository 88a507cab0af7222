"""Erasure in the outbox and the stream (audit items 20, 21): events about a customer go
out on subjects that name her, `forget` deletes exactly her outbox rows, and a purge row
removes her subjects from the stream once everything recorded before it is there, never
earlier, whatever other replicas, open transactions or unacknowledged publishes do."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import sqlalchemy as sa
from nats.js.api import ConsumerConfig, DeliverPolicy

from atelier.events.v1 import associate_events_pb2, customer_events_pb2, envelope_pb2
from atelierctl.embedded import EmbeddedNats
from servicekit import db, event_types, events, outbox
from tests.servicekit.support import eventually, free_port, migrated_database
from tests.servicekit.test_relay_and_writers import _HeldInPublish

ANN_X = "customers/ann-x"
ANN_XX = "customers/ann-xx"  # her name contains ann-x's: the substring trap of item 20


def _created(customer: str, canary: str) -> envelope_pb2.EventEnvelope:
    from atelier.customer.v1 import customer_pb2

    profile = customer_pb2.Customer(name=customer, given_name=canary)
    return events.new_envelope(
        event_type=event_types.CUSTOMER_CREATED,
        source="test",
        subject=customer,
        payload=customer_events_pb2.CustomerCreated(customer=profile),
        actor="test",
    )


def _task(customer: str, note: str) -> envelope_pb2.EventEnvelope:
    payload = associate_events_pb2.TaskChanged(task="tasks/t-1", customer=customer, outcome_note=note)
    return events.new_envelope(
        event_type=event_types.TASK_UPDATED, source="test", subject="tasks/t-1", payload=payload, actor="test"
    )


def _erased(customer: str) -> envelope_pb2.EventEnvelope:
    return events.new_envelope(
        event_type=event_types.CUSTOMER_ERASED,
        source="test",
        subject=customer,
        payload=customer_events_pb2.CustomerErased(customer=customer),
        actor="test",
    )


def _store() -> envelope_pb2.EventEnvelope:
    payload = associate_events_pb2.StoreChanged(store="stores/s-1", display_name="Boutique")
    return events.new_envelope(
        event_type=event_types.STORE_CREATED, source="test", subject="stores/s-1", payload=payload, actor="test"
    )


async def _record(engine, *envelopes: envelope_pb2.EventEnvelope) -> None:
    async with engine.begin() as conn:
        await outbox.record(conn, *envelopes)


async def _erase(engine, customer: str) -> int:
    """What an erasing unit of work does to the outbox: forget her rows, then the purge
    request and the erased event (uow.emit order)."""
    async with engine.begin() as conn:
        gone = await outbox.forget(conn, [customer])
        await outbox.record(conn, outbox.purge_request(customer), _erased(customer))
    return gone


async def _whole_stream(js, bus) -> list[tuple[str, bytes]]:
    """Every message in the stream, all subjects, read raw from the start by a new
    ephemeral consumer."""
    total = (await js.stream_info(bus.stream)).state.messages
    sub = await js.pull_subscribe(
        bus.all_subjects, stream=bus.stream, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    )
    seen: list[tuple[str, bytes]] = []
    while len(seen) < total:
        for msg in await sub.fetch(min(500, total - len(seen)), timeout=5):
            seen.append((msg.subject, msg.data))
            await msg.ack()
    await sub.unsubscribe()
    return seen


async def _rows(engine) -> list[tuple[str, str | None, bool]]:
    async with engine.connect() as conn:
        result = await conn.execute(
            sa.text("SELECT event_type, customer, published_at IS NOT NULL FROM outbox ORDER BY seq")
        )
        return [(r[0], r[1], r[2]) for r in result]


def test_subjects_name_the_customer_an_event_is_about():
    bus = events.EventBus(prefix="p")
    assert bus.subject(event_types.CUSTOMER_CREATED, ANN_X) == "p.customer.created.customers.ann-x"
    assert bus.subject(event_types.CUSTOMER_CREATED) == "p.customer.created"
    assert bus.customer_subjects(ANN_X) == "p.*.*.customers.ann-x"
    assert bus.event_type("p.customer.created.customers.ann-x") == event_types.CUSTOMER_CREATED
    assert bus.event_type("p.customer.erased") == event_types.CUSTOMER_ERASED
    assert events.concerned_customer(_created(ANN_X, "x")) == ANN_X
    assert events.concerned_customer(_task(ANN_XX, "x")) == ANN_XX  # a task's payload names her
    assert events.concerned_customer(_erased(ANN_X)) == ""  # outlives her purge
    assert events.concerned_customer(_store()) == ""
    assert events.customer_of("customers/ann-x/purchases/p-1") == ANN_X
    assert events.customer_of("customers/Ann.X") == ""  # never a subject token


async def test_forget_deletes_exactly_her_rows_and_the_purge_keeps_her_namesake(bus_env):
    engine, js, bus, url = bus_env
    # Her canaries start QZX, her namesake's QZY: none is a substring of another's.
    await _record(engine, _created(ANN_X, "QZX-profile"), _task(ANN_X, "QZX-note"))
    await _record(engine, _created(ANN_XX, "QZY-profile"), _task(ANN_XX, "QZY-note"), _store())
    relay = outbox.OutboxRelay(engine, js, bus, database_url=url)
    assert await relay.drain() == 5
    await _record(engine, _created(ANN_X, "QZX-pending"))  # one more of hers, not yet published

    assert await _erase(engine, ANN_X) == 3  # her two published rows and the pending one
    assert await relay.drain() == 1  # the erased event, after the purge
    assert relay.purged == 1

    stream = await _whole_stream(js, bus)
    assert not [s for s, data in stream if b"QZX" in data]
    assert sum(b"QZY" in data for _, data in stream) == 2
    subjects = [s for s, _ in stream]
    assert subjects == [
        f"{bus.prefix}.customer.created.customers.ann-xx",
        f"{bus.prefix}.associate.task_updated.customers.ann-xx",
        f"{bus.prefix}.associate.store_created",
        f"{bus.prefix}.customer.erased",
    ]
    rows = await _rows(engine)
    assert [(t, c) for t, c, _ in rows] == [
        (event_types.CUSTOMER_CREATED, ANN_XX),
        (event_types.TASK_UPDATED, ANN_XX),
        (event_types.STORE_CREATED, ""),
        (outbox.PURGE, ANN_X),
        (event_types.CUSTOMER_ERASED, ""),
    ]
    assert all(published for *_, published in rows)


async def test_a_new_durable_consumer_replaying_from_the_start_finds_only_her_erasure(bus_env):
    engine, js, bus, url = bus_env
    await _record(engine, _created(ANN_X, "CANARY-X"), _created(ANN_XX, "CANARY-XX"))
    relay = outbox.OutboxRelay(engine, js, bus, database_url=url)
    await relay.drain()
    await _erase(engine, ANN_X)
    await relay.drain()
    sub = await js.pull_subscribe(
        f"{bus.prefix}.customer.>",
        durable="replays-everything",
        stream=bus.stream,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
    )
    seen = [envelope_pb2.EventEnvelope.FromString(m.data) for m in await sub.fetch(10, timeout=2)]
    assert [(e.type, e.subject) for e in seen] == [
        (event_types.CUSTOMER_CREATED, ANN_XX),
        (event_types.CUSTOMER_ERASED, ANN_X),
    ]


async def test_a_purge_waits_for_rows_another_replica_is_still_publishing(bus_env):
    """Replica A holds her row mid-publish (claimed); the erasure deletes it and records
    the purge; replica B must neither purge nor publish past the purge row until A is
    done, else A's publish would land after the purge."""
    engine, js, bus, url = bus_env
    await _record(engine, _created(ANN_X, "CANARY-X"))
    slow = _HeldInPublish(engine, js, bus, database_url=url)
    publishing = asyncio.create_task(slow.drain())
    await asyncio.wait_for(slow.publishing.wait(), 5)
    await _erase(engine, ANN_X)
    await _record(engine, _created(ANN_XX, "CANARY-XX"))  # after the fence

    other = outbox.OutboxRelay(engine, js, bus, database_url=url, poll_interval=0.2)
    assert await other.drain() == 0  # nothing: the purge waits for A, the rest waits for the purge
    assert other.purged == 0
    assert (await js.stream_info(bus.stream)).state.messages == 0

    slow.release.set()  # A publishes her (deleted) row's message after all, then goes on
    published = await asyncio.wait_for(publishing, 10) + await other.drain()
    await slow.close()
    await other.close()
    assert published == 3  # her late message, then (after the purge) the erased event and ann-xx
    assert slow.purged + other.purged == 1
    subjects = [s for s, _ in await _whole_stream(js, bus)]
    assert subjects == [f"{bus.prefix}.customer.erased", f"{bus.prefix}.customer.created.customers.ann-xx"]


async def test_a_purge_waits_for_a_transaction_that_took_an_earlier_number(bus_env):
    """Sequence numbers are taken at insert, not at commit: a transaction that recorded
    her event before the erasure but commits after it must still go out before the purge."""
    engine, js, bus, url = bus_env
    async with engine.connect() as slow_writer:
        await slow_writer.begin()
        await outbox.record(slow_writer, _created(ANN_X, "CANARY-LATE"))  # takes a number, not committed
        await _erase(engine, ANN_X)  # does not see it
        relay = outbox.OutboxRelay(engine, js, bus, database_url=url, poll_interval=0.3)
        assert await relay.drain() == 0
        assert relay.purged == 0  # still running: it may commit a row before the purge
        await slow_writer.commit()
    assert await relay.drain() == 2  # her late event, the purge, the erased event
    assert relay.purged == 1
    await relay.close()
    stream = await _whole_stream(js, bus)
    assert [s for s, _ in stream] == [f"{bus.prefix}.customer.erased"]
    assert not any(b"CANARY-LATE" in data for _, data in stream)


async def test_unacknowledged_publishes_are_settled_before_their_rows_are_released(infra):
    """NATS goes away with publishes unacknowledged: the relay keeps its claims until a
    barrier on its connection, once NATS is back, proves that nothing it sent may still
    land; the barrier itself is never stored."""
    url = await migrated_database(infra, "settle")
    engine = db.create_engine(url)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="atelier-kit-nats-") as tmp:
        server = EmbeddedNats(Path(tmp) / "nats", port=port)
        await asyncio.to_thread(server.start)
        nc = await events.connect(server.url(), "settle-test")
        js = nc.jetstream()
        bus = events.EventBus(prefix="settle", stream="SETTLE")
        await events.ensure_stream(js, bus)
        try:
            relay = outbox.OutboxRelay(engine, js, bus, database_url=url, poll_interval=0.2)
            relay._unsettled = True  # as after an ack that never came
            await asyncio.to_thread(server.stop)
            settling = asyncio.create_task(relay._settle())
            await asyncio.sleep(1.0)
            assert not settling.done()  # no answer while NATS is away
            await asyncio.to_thread(server.start)
            await asyncio.wait_for(settling, 30)
            assert not relay._unsettled
            await eventually(lambda: nc.is_connected, within=10)
            assert (await js.stream_info(bus.stream)).state.messages == 0  # refused, never stored
        finally:
            await nc.close()
            await asyncio.to_thread(server.stop)
            await engine.dispose()
