"""Transactional outbox: events commit with the state change, a relay publishes them.

`record()` inserts the event in the caller's transaction. The relay claims unpublished
rows with FOR UPDATE SKIP LOCKED (so replicas share the work), publishes them pipelined
to JetStream with `Nats-Msg-Id` = event id, and marks them sent only once JetStream has
acknowledged them. A crash between the ack and the mark re-publishes on restart, which
the stream's duplicate window absorbs. It wakes on NOTIFY and also polls, so a missed
notification costs at most the poll interval.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg
import sqlalchemy as sa
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from atelier.events.v1 import envelope_pb2
from servicekit.db import libpq_url
from servicekit.events import EventBus

log = logging.getLogger("atelier.outbox")

CHANNEL = "atelier_outbox"

# DDL shared by every service's first migration (op.execute(outbox.DDL)).
DDL = f"""
CREATE TABLE outbox (
    seq          bigserial PRIMARY KEY,
    event_id     uuid NOT NULL UNIQUE,
    event_type   text NOT NULL,
    envelope     bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

CREATE TABLE inbox (
    consumer   text NOT NULL,
    event_id   uuid NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
"""

DROP_DDL = """
DROP TABLE inbox;
DROP TRIGGER outbox_notify ON outbox;
DROP FUNCTION outbox_notify();
DROP TABLE outbox;
"""

outbox_table = sa.table(
    "outbox",
    sa.column("seq", sa.BigInteger),
    sa.column("event_id", sa.Uuid),
    sa.column("event_type", sa.Text),
    sa.column("envelope", sa.LargeBinary),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("published_at", sa.DateTime(timezone=True)),
)

_INSERT = sa.insert(outbox_table)


async def record(conn: AsyncConnection, *envelopes: envelope_pb2.EventEnvelope) -> None:
    """Add events to the caller's transaction; they exist only if it commits."""
    await conn.execute(
        _INSERT,
        [
            {"event_id": e.id, "event_type": e.type, "envelope": e.SerializeToString()}
            for e in envelopes
        ],
    )


_CLAIM = sa.text(
    "SELECT seq, event_id, event_type, envelope FROM outbox "
    "WHERE published_at IS NULL ORDER BY seq LIMIT :limit FOR UPDATE SKIP LOCKED"
)
_MARK = sa.text("UPDATE outbox SET published_at = now() WHERE seq = ANY(:seqs)")
_PURGE = sa.text(
    "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => :age)"
)


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        js: JetStreamContext,
        bus: EventBus,
        *,
        database_url: str,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        ack_timeout: float = 10.0,
        keep_published_seconds: int = 24 * 3600,
    ):
        self._engine = engine
        self._js = js
        self._bus = bus
        self._database_url = database_url
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._ack_timeout = ack_timeout
        self._keep_published = keep_published_seconds
        self._wake = asyncio.Event()
        self.published = 0

    async def run(self, stop: asyncio.Event) -> None:
        listener = asyncio.create_task(self._listen(stop))
        purge_every, since_purge = 600.0, 0.0
        try:
            while not stop.is_set():
                try:
                    await self.drain()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("outbox relay failed; retrying")
                    await _sleep_or_stop(stop, self._poll_interval)
                    continue
                since_purge += self._poll_interval
                if since_purge >= purge_every:
                    since_purge = 0.0
                    await self._purge()
                self._wake.clear()
                waiter = asyncio.create_task(self._wake.wait())
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait(
                    {waiter, stopper}, timeout=self._poll_interval, return_when=asyncio.FIRST_COMPLETED
                )
                waiter.cancel()
                stopper.cancel()
            # Flush what committed before the stop so acknowledged changes go out now.
            await self.drain()
        finally:
            listener.cancel()

    async def drain(self) -> int:
        """Publish every pending row; returns how many were published."""
        total = 0
        while True:
            async with self._engine.begin() as conn:
                rows = (await conn.execute(_CLAIM, {"limit": self._batch_size})).all()
                if not rows:
                    return total
                acked = await self._publish(rows)
                if acked:
                    await conn.execute(_MARK, {"seqs": acked})
            total += len(acked)
            self.published += len(acked)
            if len(acked) < len(rows):
                # Some publishes failed; leave them for the next pass instead of spinning.
                return total

    async def _publish(self, rows) -> list[int]:
        futures = []
        for row in rows:
            envelope = envelope_pb2.EventEnvelope.FromString(row.envelope)
            headers = {"Nats-Msg-Id": str(row.event_id), "Atelier-Event-Type": row.event_type}
            headers.update(envelope.trace_context)
            futures.append(
                await self._js.publish_async(
                    self._bus.subject(row.event_type), row.envelope, headers=headers
                )
            )
        results = await asyncio.gather(
            *(asyncio.wait_for(f, self._ack_timeout) for f in futures), return_exceptions=True
        )
        acked = []
        for row, result in zip(rows, results):
            if isinstance(result, BaseException):
                log.warning("publish of event %s not acknowledged: %r", row.event_id, result)
            else:
                acked.append(row.seq)
        return acked

    async def _purge(self) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(_PURGE, {"age": self._keep_published})
        except Exception:
            log.exception("outbox purge failed")

    async def _listen(self, stop: asyncio.Event) -> None:
        """LISTEN on its own autocommit connection; reconnects on failure."""
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    libpq_url(self._database_url), autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    async for _ in conn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox LISTEN connection lost (%s); polling until it is back", exc)
                await _sleep_or_stop(stop, 2.0)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass


