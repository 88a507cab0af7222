"""Writes never wait on NATS (audit item 23): the outbox relay holds no transaction and no
row lock while it waits for JetStream, yet replicas still share the work and nothing
acknowledged is lost."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import sqlalchemy as sa

from atelierctl.embedded import EmbeddedNats
from servicekit import db, events, outbox
from tests.servicekit.support import eventually, free_port, migrated_database
from tests.servicekit.test_events import _pending, _record, _stream_ids


class _HeldInPublish(outbox.OutboxRelay):
    """A relay whose publish waits until released: JetStream slow or unreachable."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.publishing = asyncio.Event()
        self.release = asyncio.Event()

    async def _publish(self, rows):
        self.publishing.set()
        await self.release.wait()
        return await super()._publish(rows)


async def _erase(engine, seqs: list[int]) -> None:
    """What an erasure does to the outbox: update and delete rows the relay is handling.
    With a lock timeout, so a writer made to wait fails instead of hanging the test."""
    async with engine.begin() as conn:
        await conn.execute(sa.text("SET LOCAL lock_timeout = '3s'"))
        await conn.execute(sa.text("UPDATE outbox SET envelope = '' WHERE seq = ANY(:s)"), {"s": seqs[:2]})
        await conn.execute(sa.text("DELETE FROM outbox WHERE seq = ANY(:s)"), {"s": seqs})


async def _seqs(engine) -> list[int]:
    async with engine.connect() as conn:
        return list((await conn.execute(sa.text("SELECT seq FROM outbox ORDER BY seq"))).scalars())


async def test_a_writer_never_waits_for_a_relay_that_waits_for_jetstream(bus_env):
    engine, js, bus, url = bus_env
    await _record(engine, 20)
    relay = _HeldInPublish(engine, js, bus, database_url=url, batch_size=10)
    draining = asyncio.create_task(relay.drain())
    await asyncio.wait_for(relay.publishing.wait(), 5)
    seqs = await _seqs(engine)
    # The relay holds 10 rows mid-publish; the writer touches them and the others.
    await asyncio.wait_for(_erase(engine, seqs[5:15]), 5)
    relay.release.set()
    await asyncio.wait_for(draining, 10)
    await relay.close()
    # Erased rows are gone (not marked, not resurrected); the others were all published.
    assert await _seqs(engine) == seqs[:5] + seqs[15:]
    assert await _pending(engine) == 0


async def test_writes_complete_at_once_while_nats_is_down_and_nothing_is_lost(infra):
    url = await migrated_database(infra, "natsdown")
    engine = db.create_engine(url)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="atelier-kit-nats-") as tmp:
        server = EmbeddedNats(Path(tmp) / "nats", port=port)
        await asyncio.to_thread(server.start)
        nc = await events.connect(server.url(), "relay-test")
        js = nc.jetstream()
        bus = events.EventBus(prefix="down", stream="DOWN")
        await events.ensure_stream(js, bus)
        try:
            kept = await _record(engine, 30)
            await asyncio.to_thread(server.stop)  # NATS goes down with everything unpublished
            relay = _HeldInPublish(engine, js, bus, database_url=url, batch_size=50, ack_timeout=30, poll_interval=0.2)
            relay.release.set()
            stop = asyncio.Event()
            running = asyncio.create_task(relay.run(stop))
            await asyncio.wait_for(relay.publishing.wait(), 5)  # stuck waiting for acks for up to 30 s
            erased = await _record(engine, 5)
            seqs = await _seqs(engine)
            await asyncio.wait_for(_erase(engine, seqs[-5:]), 5)  # the erasure of the last five
            # Back up: what was committed and not erased reaches the stream, once.
            await asyncio.to_thread(server.start)
            await eventually(lambda: _no_pending(engine), within=60)
            stop.set()
            await asyncio.wait_for(running, 30)
            ids = await _stream_ids(js, bus)
            assert set(kept) <= set(ids)
            assert len(ids) == len(set(ids))
            assert set(erased).isdisjoint(ids)  # erased before they could go out
        finally:
            await nc.close()
            await asyncio.to_thread(server.stop)
            await engine.dispose()


async def _no_pending(engine) -> bool:
    return await _pending(engine) == 0


async def test_replicas_share_the_outbox_without_publishing_a_row_twice(bus_env):
    engine, js, bus, url = bus_env
    ids = await _record(engine, 600)
    relays = [outbox.OutboxRelay(engine, js, bus, database_url=url, batch_size=50) for _ in range(3)]
    counts = await asyncio.gather(*(r.drain() for r in relays))
    for relay in relays:
        await relay.close()
    assert sum(counts) == 600
    assert sum(1 for c in counts if c) >= 2  # the work was shared
    assert await _pending(engine) == 0
    assert sorted(await _stream_ids(js, bus)) == sorted(ids)


async def test_a_claim_dies_with_its_session(bus_env):
    """A relay killed while holding claims (its connection closed) leaves nothing locked."""
    engine, js, bus, url = bus_env
    ids = await _record(engine, 10)
    stuck = _HeldInPublish(engine, js, bus, database_url=url)
    task = asyncio.create_task(stuck.drain())
    await asyncio.wait_for(stuck.publishing.wait(), 5)
    # A second relay finds every row claimed and publishes nothing meanwhile.
    other = outbox.OutboxRelay(engine, js, bus, database_url=url)
    assert await other.drain() == 0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    # PostgreSQL frees a closed session's advisory locks a moment after the client has
    # closed it: the other relay takes every row once they are free.
    published = 0

    async def everything_published() -> bool:
        nonlocal published
        published += await other.drain()
        return published == 10

    await eventually(everything_published, within=10)
    await other.close()
    assert await _stream_ids(js, bus) == ids
