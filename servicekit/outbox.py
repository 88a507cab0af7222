"""Transactional outbox: events commit with the state change, a relay publishes them.

`record()` inserts the event in the caller's transaction. The relay publishes committed
rows to JetStream, pipelined, with `Nats-Msg-Id` = event id, and marks them sent only
once JetStream has acknowledged them: nothing a caller was told is done is lost.

No transaction and no row lock is ever held while the relay waits on NATS, so writes
never wait on NATS (an erasure deleting outbox rows while NATS is down completes at
once). A batch goes through three short steps on the relay's own autocommit connection:

1. claim: read the oldest unpublished rows, taking for each a session-level advisory
   lock with `pg_try_advisory_lock` and skipping rows another replica holds (skip-locked
   claiming across replicas, as FOR UPDATE SKIP LOCKED would, but the lock is not a row
   lock: writers updating or deleting those rows never wait on it), then keep only the
   rows still unpublished once locked;
2. publish the batch pipelined and wait for the acks, outside any transaction;
3. mark the acknowledged rows sent with a guarded UPDATE (`published_at IS NULL`), then
   release the claims (`pg_advisory_unlock_all`).

A crash anywhere ends the session, which releases its claims; a crash between the ack
and the mark re-publishes on restart, which the stream's duplicate window absorbs. A row
deleted (erasure) between claim and mark is simply not marked. It wakes on NOTIFY and
also polls, so a missed notification costs at most the poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
import sqlalchemy as sa
from nats import errors as nats_errors
from nats.js import JetStreamContext
from nats.js.api import PubAck
from psycopg.rows import class_row, scalar_row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from atelier.events.v1 import envelope_pb2
from servicekit import telemetry
from servicekit.db import libpq_url
from servicekit.events import EventBus

log = telemetry.logger("atelier.outbox")

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
        [{"event_id": e.id, "event_type": e.type, "envelope": e.SerializeToString()} for e in envelopes],
    )


@dataclass(frozen=True)
class PendingEvent:
    """An outbox row claimed for publishing."""

    seq: int
    event_id: uuid.UUID
    event_type: str
    envelope: bytes


# Claims live in their own advisory-lock space (two int4 keys: this namespace and the
# row's seq folded into an int4), apart from the one-key locks of periodic jobs.
#
# The lock must be tried only on the rows the claim returns. The inner query picks a
# window of the oldest pending rows without locking anything (a LIMIT keeps the filter
# out of it, whatever plan sorts it); the outer filter then tries the lock row by row in
# that order and the outer LIMIT stops at a batch. No ORDER BY outside: a sort there would
# try every row of the window first. Rows another replica holds are skipped, so with a
# window of several batches replicas take successive batches.
_CLAIM = """
SELECT seq, event_id, event_type, envelope FROM (
    SELECT seq, event_id, event_type, envelope FROM outbox
    WHERE published_at IS NULL ORDER BY seq LIMIT %(window)s
) AS oldest
WHERE pg_try_advisory_lock(hashtext('atelier.outbox'), ((seq %% 4294967296) - 2147483648)::int4)
LIMIT %(limit)s
"""
CLAIM_WINDOW_BATCHES = 4
# The claim read its snapshot before taking the locks: a row another replica marked
# sent (and released) in between is dropped here rather than published twice.
_STILL_PENDING = "SELECT seq FROM outbox WHERE seq = ANY(%(seqs)s) AND published_at IS NULL"
_MARK = "UPDATE outbox SET published_at = now() WHERE seq = ANY(%(seqs)s) AND published_at IS NULL"
_RELEASE = "SELECT pg_advisory_unlock_all()"
_PURGE = sa.text(
    "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => :age)"
)

ClaimConnection = psycopg.AsyncConnection[PendingEvent]


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
        self._conn: ClaimConnection | None = None
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
                await asyncio.wait({waiter, stopper}, timeout=self._poll_interval, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
            # Flush what committed before the stop so acknowledged changes go out now.
            await self.drain()
        finally:
            listener.cancel()
            await self.close()

    async def close(self) -> None:
        """Close the claim connection (which releases any claim it still holds)."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            await conn.close()

    async def drain(self) -> int:
        """Publish every pending row; returns how many were published."""
        total = 0
        while True:
            claimed, acked = await self._batch()
            total += acked
            self.published += acked
            if claimed == 0 or acked < claimed:
                # Nothing left, or some publishes failed: leave those for the next pass
                # instead of spinning.
                return total

    async def _connection(self) -> ClaimConnection:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                libpq_url(self._database_url), autocommit=True, row_factory=class_row(PendingEvent)
            )
        return self._conn

    async def _batch(self) -> tuple[int, int]:
        """Claim, publish and mark one batch; (rows claimed, rows acknowledged)."""
        conn = await self._connection()
        try:
            rows = await self._claim(conn)
            if not rows:
                await conn.execute(_RELEASE)
                return 0, 0
            # No transaction is open here: the wait below holds nothing a writer needs.
            acked = await self._publish(rows)
            _raise_if_cancelled()
            if acked:
                await conn.execute(_MARK, {"seqs": acked})
            await conn.execute(_RELEASE)
        except BaseException:
            # Closing the session releases its claims, whatever state it is in.
            await self.close()
            raise
        return len(rows), len(acked)

    async def _claim(self, conn: ClaimConnection) -> list[PendingEvent]:
        window = self._batch_size * CLAIM_WINDOW_BATCHES
        rows = await (await conn.execute(_CLAIM, {"window": window, "limit": self._batch_size})).fetchall()
        if not rows:
            return []
        rows.sort(key=lambda r: r.seq)
        async with conn.cursor(row_factory=scalar_row) as cur:
            await cur.execute(_STILL_PENDING, {"seqs": [r.seq for r in rows]})
            still = set(await cur.fetchall())
        return [r for r in rows if r.seq in still]

    async def _publish(self, rows: Sequence[PendingEvent]) -> list[int]:
        """Publish pipelined; the seqs JetStream acknowledged."""
        futures: list[asyncio.Future[PubAck]] = []
        try:
            for row in rows:
                envelope = envelope_pb2.EventEnvelope.FromString(row.envelope)
                headers = {"Nats-Msg-Id": str(row.event_id), "Atelier-Event-Type": row.event_type}
                headers.update(envelope.trace_context)
                futures.append(
                    await self._js.publish_async(self._bus.subject(row.event_type), row.envelope, headers=headers)
                )
        except (OSError, nats_errors.Error) as exc:  # TimeoutError is an OSError
            _raise_if_cancelled()  # nats-py reports a cancellation during publish_async as a stall
            # NATS refused more (connection closed, buffer full): wait for what went out.
            log.warning("publishing stopped after %d of %d events: %r", len(futures), len(rows), exc)
        results = await asyncio.gather(
            *(asyncio.wait_for(f, self._ack_timeout) for f in futures), return_exceptions=True
        )
        acked = []
        for row, result in zip(rows, results, strict=False):
            if isinstance(result, BaseException):
                log.warning("publish of event %s not acknowledged: %r", row.event_id, result)
            else:
                acked.append(row.seq)
        return acked

    async def _purge(self) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(_PURGE, {"age": self._keep_published})
        except (sa.exc.SQLAlchemyError, psycopg.Error, OSError):
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
            except (psycopg.Error, OSError) as exc:
                log.warning("outbox LISTEN connection lost (%s); polling until it is back", exc)
                await _sleep_or_stop(stop, 2.0)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _raise_if_cancelled() -> None:
    """Re-raise a cancellation that a library swallowed (asyncio.wait_for on Python 3.11
    returns the result when it completes together with the cancellation; nats-py turns
    one into TooManyStalledMsgsError): a cancelled relay must stop, not mark and go on."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
