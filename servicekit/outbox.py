"""Transactional outbox: events commit with the state change, a relay publishes them.

`record()` inserts the event in the caller's transaction. The relay publishes committed
rows to JetStream, pipelined, with `Nats-Msg-Id` = event id, and marks them sent only
once JetStream has acknowledged them: nothing a caller was told is done is lost. An event
about a customer goes out on a subject that names her (servicekit.events); the row keeps
her name in `customer`, so that erasing her finds her rows by equality (`forget`).

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

Purges (erasure). A unit of work that erases a customer emits `purge_request(customer)`
after her events (`uow.emit`); it becomes a purge row (event_type `purge`, never
published) in the outbox, ordered like any event. A purge row is a fence: no relay claims
rows after it until it is done, and the relay carries it out only once every row before
it is in the stream, i.e. when

* no row before it is unpublished, none is claimed by another replica (a claim is held
  until its publishes are settled, below), and every transaction that could still commit
  a row numbered before it has ended (seq order is insert order, not commit order);

then it purges `<prefix>.*.*.customers.<id>` from the stream (a filtered purge, NATS 2.9)
and marks the row done; a failure leaves it pending and it is retried. Her messages
published before the purge are gone for every reader, a consumer replaying from the start
included; the `customer.erased` event, published after the purge row and without her
tokens, stays. A consumer that had not read her events yet receives only `erased`.

Settling. The relay publishes only while connected, but a publish whose ack did not come
may still be on its way: nats-py keeps what it could not write when the connection
dropped and sends it on reconnect, whenever that is, maybe after an erasure deleted the
row and purged her subjects. So before releasing rows with such publishes, the relay
sends a barrier on the same connection once it is back: a publish the stream always
refuses (its expected last message id is a fresh UUID), whose answer proves that
everything sent before it on this connection was stored or dropped (JetStream handles a
connection's publishes to a stream in order). Until then the rows stay claimed, which
holds back any purge after them (replicas included).
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
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import APIError
from psycopg.rows import class_row, dict_row, scalar_row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from atelier.events.v1 import envelope_pb2
from servicekit import telemetry
from servicekit.db import libpq_url
from servicekit.events import EventBus, concerned_customer, customer_of

log = telemetry.logger("atelier.outbox")

CHANNEL = "atelier_outbox"

# The event_type of a purge row: a step of the relay, never published.
PURGE = "purge"

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

# DDL of each service's migration that brings erasure to the outbox (after DDL).
# `customer`: the customer an event is about (`customers/{id}`), '' when none, NULL when
# the writer did not say (rows copied in bulk, rows older than the column): `forget` reads
# those envelopes. For a purge row, the customer whose subjects it purges.
CUSTOMER_DDL = f"""
ALTER TABLE outbox ADD COLUMN customer text;
CREATE INDEX outbox_customer ON outbox (customer);
CREATE INDEX outbox_pending_purges ON outbox (seq) WHERE published_at IS NULL AND event_type = '{PURGE}';
"""

DROP_CUSTOMER_DDL = """
DROP INDEX outbox_pending_purges;
DROP INDEX outbox_customer;
ALTER TABLE outbox DROP COLUMN customer;
"""

outbox_table = sa.table(
    "outbox",
    sa.column("seq", sa.BigInteger),
    sa.column("event_id", sa.Uuid),
    sa.column("event_type", sa.Text),
    sa.column("envelope", sa.LargeBinary),
    sa.column("customer", sa.Text),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("published_at", sa.DateTime(timezone=True)),
)

_INSERT = sa.insert(outbox_table)


def purge_request(customer: str) -> envelope_pb2.EventEnvelope:
    """For `uow.emit`, after the events it must follow: once every row recorded before it
    is in the stream, every message about `customer` (`customers/{id}`, all areas and
    events) is purged from the stream. Never published."""
    if customer_of(customer) != customer:
        raise ValueError(f"not a customer name: {customer!r}")
    return envelope_pb2.EventEnvelope(id=str(uuid.uuid4()), type=PURGE, subject=customer)


def _about(envelope: envelope_pb2.EventEnvelope) -> str:
    return envelope.subject if envelope.type == PURGE else concerned_customer(envelope)


async def record(conn: AsyncConnection, *envelopes: envelope_pb2.EventEnvelope) -> None:
    """Add events (and purge requests) to the caller's transaction, in this order; they
    exist only if it commits."""
    await conn.execute(
        _INSERT,
        [
            {"event_id": e.id, "event_type": e.type, "envelope": e.SerializeToString(), "customer": _about(e)}
            for e in envelopes
        ],
    )


_FORGET = sa.text(f"DELETE FROM outbox WHERE customer = ANY(:names) AND event_type <> '{PURGE}'")
# Rows whose writer did not say whom they are about: candidates that contain a name,
# decided on their decoded envelope.
_UNSAID = sa.text(
    """
    SELECT seq, envelope FROM outbox o WHERE customer IS NULL AND EXISTS (
        SELECT 1 FROM unnest(CAST(:names AS text[])) n WHERE position(convert_to(n, 'UTF8') IN o.envelope) > 0)
    """
)
_DELETE_SEQS = sa.text("DELETE FROM outbox WHERE seq = ANY(:seqs)")


async def forget(conn: AsyncConnection, customers: Sequence[str]) -> int:
    """Delete every outbox row about these customers (`customers/{id}`), published or not,
    in the caller's transaction: exactly theirs, never another customer whose name merely
    contains theirs. Purge rows stay. Returns how many rows went."""
    names = list(customers)
    if not names:
        return 0
    deleted = (await conn.execute(_FORGET, {"names": names})).rowcount
    wanted = set(names)
    seqs = [
        row.seq
        for row in await conn.execute(_UNSAID, {"names": names})
        if concerned_customer(envelope_pb2.EventEnvelope.FromString(row.envelope)) in wanted
    ]
    if seqs:
        deleted += (await conn.execute(_DELETE_SEQS, {"seqs": seqs})).rowcount
    return int(deleted)


@dataclass(frozen=True)
class PendingEvent:
    """An outbox row claimed for publishing (or, event_type PURGE, for purging)."""

    seq: int
    event_id: uuid.UUID
    event_type: str
    envelope: bytes
    customer: str | None


# Claims live in their own advisory-lock space (two int4 keys: this namespace and the
# row's seq folded into an int4), apart from the one-key locks of periodic jobs.
#
# The lock must be tried only on the rows the claim returns. The inner query picks a
# window of the oldest pending rows without locking anything (a LIMIT keeps the filter
# out of it, whatever plan sorts it); the outer filter then tries the lock row by row in
# that order and the outer LIMIT stops at a batch. No ORDER BY outside: a sort there would
# try every row of the window first. Rows another replica holds are skipped, so with a
# window of several batches replicas take successive batches. The window ends at the
# first pending purge row (a fence: nothing after it goes out before it is done).
_CLAIM = f"""
SELECT seq, event_id, event_type, envelope, customer FROM (
    SELECT seq, event_id, event_type, envelope, customer FROM outbox
    WHERE published_at IS NULL
      AND seq <= COALESCE(
          (SELECT min(seq) FROM outbox WHERE published_at IS NULL AND event_type = '{PURGE}'), 9223372036854775807)
    ORDER BY seq LIMIT %(window)s
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
# Whether a purge row may run (module docstring): the transactions running now (their
# oldest xid, and the first xid not yet assigned), unpublished rows before it, and the
# claims other sessions of this database hold (their folded seqs).
_PURGE_READY = """
SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS oldest_running,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid,
       EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL AND seq < %(seq)s) AS earlier_pending,
       ARRAY(SELECT objid::bigint FROM pg_locks
             WHERE locktype = 'advisory' AND objsubid = 2 AND granted AND pid <> pg_backend_pid()
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND classid = hashtext('atelier.outbox')::oid) AS claims
"""
_FORGET_PUBLISHED = sa.text(
    "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => :age)"
)

ClaimConnection = psycopg.AsyncConnection[PendingEvent]

_HALF = 2**31


def _claimed_before(claims: Sequence[int], seq: int) -> bool:
    """Whether a claim (objid of its advisory lock: seq mod 2^32, shifted by 2^31) is on a
    row numbered before `seq`; claims are within a few batches of each other, so the
    distance modulo 2^32 tells."""
    return any(0 < (seq - (objid + _HALF)) % 2**32 < _HALF for objid in claims)


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
        # The connection the context publishes on (nats-py has no public accessor).
        self._nc: NATS = js._nc
        self._bus = bus
        self._database_url = database_url
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._ack_timeout = ack_timeout
        self._keep_published = keep_published_seconds
        self._wake = asyncio.Event()
        self._conn: ClaimConnection | None = None
        # Publishes of this relay whose fate is unknown (no ack, no refusal): see _settle.
        self._unsettled = False
        # Purge rows seen, by seq: the first xid not yet assigned when first seen.
        self._purge_horizons: dict[int, int] = {}
        self.published = 0
        self.purged = 0

    async def run(self, stop: asyncio.Event) -> None:
        listener = asyncio.create_task(self._listen(stop))
        cleanup_every, since_cleanup = 600.0, 0.0
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
                since_cleanup += self._poll_interval
                if since_cleanup >= cleanup_every:
                    since_cleanup = 0.0
                    await self._forget_published()
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
        """Publish every pending row (and carry out the purges among them, in order);
        returns how many events were published."""
        total = 0
        while True:
            claimed, done, published = await self._batch()
            total += published
            self.published += published
            if claimed == 0 or done < claimed:
                # Nothing left, or some publishes failed, or a purge must wait: leave those
                # for the next pass instead of spinning.
                return total

    async def _connection(self) -> ClaimConnection:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                libpq_url(self._database_url), autocommit=True, row_factory=class_row(PendingEvent)
            )
        return self._conn

    async def _batch(self) -> tuple[int, int, int]:
        """Claim, publish and mark one batch, ending with the purge row that fences it if
        there is one; (rows claimed, rows done, events published)."""
        conn = await self._connection()
        try:
            rows = await self._claim(conn)
            if not rows:
                await conn.execute(_RELEASE)
                return 0, 0, 0
            fence = rows[-1] if rows[-1].event_type == PURGE else None
            events = rows[:-1] if fence is not None else rows
            # No transaction is open here: the waits below hold nothing a writer needs.
            acked = await self._publish(events) if events else []
            _raise_if_cancelled()
            if self._unsettled:
                await self._settle()
            if acked:
                await conn.execute(_MARK, {"seqs": acked})
            purged = fence is not None and len(acked) == len(events) and await self._purge(conn, fence)
            await conn.execute(_RELEASE)
        except BaseException:
            # Closing the session releases its claims, whatever state it is in.
            await self.close()
            raise
        return len(rows), len(acked) + int(purged), len(acked)

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

    def _subject(self, row: PendingEvent, envelope: envelope_pb2.EventEnvelope) -> str:
        customer = row.customer if row.customer is not None else concerned_customer(envelope)
        return self._bus.subject(row.event_type, customer)

    async def _publish(self, rows: Sequence[PendingEvent]) -> list[int]:
        """Publish pipelined; the seqs JetStream acknowledged. A publish neither
        acknowledged nor refused leaves the relay unsettled. Nothing is handed to nats-py
        while it is disconnected (it would keep it for its reconnect)."""
        if not self._nc.is_connected:
            return []
        futures: list[asyncio.Future[PubAck]] = []
        try:
            for row in rows:
                envelope = envelope_pb2.EventEnvelope.FromString(row.envelope)
                headers = {"Nats-Msg-Id": str(row.event_id), "Atelier-Event-Type": row.event_type}
                headers.update(envelope.trace_context)
                futures.append(
                    await self._js.publish_async(self._subject(row, envelope), row.envelope, headers=headers)
                )
        except (OSError, nats_errors.Error) as exc:  # TimeoutError is an OSError
            _raise_if_cancelled()  # nats-py reports a cancellation during publish_async as a stall
            # NATS refused more (connection closed or down, stalled): wait for what went out.
            log.warning("publishing stopped after %d of %d events: %r", len(futures), len(rows), exc)
        results = await asyncio.gather(
            *(asyncio.wait_for(f, self._ack_timeout) for f in futures), return_exceptions=True
        )
        acked = []
        for row, result in zip(rows, results, strict=False):
            if isinstance(result, BaseException):
                log.warning("publish of event %s not acknowledged: %r", row.event_id, result)
                if not isinstance(result, nats_errors.Error) or isinstance(result, nats_errors.TimeoutError):
                    self._unsettled = True  # no answer (timed out, cancelled): it may still land
            else:
                acked.append(row.seq)
        return acked

    async def _settle(self) -> None:
        """Return once no publish this relay sent may still land: a barrier publish the
        stream refuses (module docstring), retried until the stream answers it or the
        connection is closed for good. Cancellation stops it (the session's claims go with
        the relay's connection)."""
        while True:
            if self._nc.is_closed:
                break  # nothing more will ever be sent on it
            if not self._nc.is_connected:
                await asyncio.sleep(self._poll_interval)
                continue
            try:
                await self._js.publish(
                    self._bus.barrier_subject,
                    b"",
                    timeout=self._ack_timeout,
                    headers={"Nats-Expected-Last-Msg-Id": str(uuid.uuid4())},
                )
                break  # stored after all (not expected): an answer all the same
            except APIError:
                break  # the stream answered: everything sent before it is settled
            except nats_errors.ConnectionClosedError:
                break  # nothing more will ever be sent on it
            except (OSError, nats_errors.Error) as exc:  # timeout, disconnected again, no stream
                _raise_if_cancelled()
                log.warning("settling unacknowledged publishes: %r; retrying", exc)
            await asyncio.sleep(self._poll_interval)
        self._unsettled = False

    async def _purge(self, conn: ClaimConnection, row: PendingEvent) -> bool:
        """Carry out a purge row once everything before it is in the stream (module
        docstring); False when it must wait or NATS failed (retried on a later pass)."""
        if row.customer is None or customer_of(row.customer) != row.customer:
            log.error("purge row %d names no customer; skipped", row.seq)
            await conn.execute(_MARK, {"seqs": [row.seq]})
            return True
        # Purges before this one are done (by this relay or another): forget their horizons.
        self._purge_horizons = {seq: xid for seq, xid in self._purge_horizons.items() if seq >= row.seq}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._poll_interval
        async with conn.cursor(row_factory=dict_row) as cur:
            while True:
                await cur.execute(_PURGE_READY, {"seq": row.seq})
                state = await cur.fetchone()
                assert state is not None
                horizon = self._purge_horizons.setdefault(row.seq, state["next_xid"])
                if state["earlier_pending"] or _claimed_before(state["claims"], row.seq):
                    return False  # rows before it are not all in the stream yet
                if state["oldest_running"] >= horizon:
                    break
                if loop.time() > deadline:
                    return False  # a transaction that may commit an earlier row still runs
                await asyncio.sleep(0.02)
        if not self._nc.is_connected:
            return False
        try:
            await self._js.purge_stream(self._bus.stream, subject=self._bus.customer_subjects(row.customer))
        except (OSError, nats_errors.Error) as exc:
            _raise_if_cancelled()
            log.warning("purge of outbox row %d failed: %r; retrying", row.seq, exc)
            return False
        await conn.execute(_MARK, {"seqs": [row.seq]})
        self._purge_horizons.pop(row.seq, None)
        self.purged += 1
        log.info("purged the stream's events of one erased customer (outbox row %d)", row.seq)
        return True

    async def _forget_published(self) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(_FORGET_PUBLISHED, {"age": self._keep_published})
        except (sa.exc.SQLAlchemyError, psycopg.Error, OSError):
            log.exception("outbox clean-up failed")

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
