"""Append-only audit trail of reads of personal data, written off the request path.

Reading a customer is a hot path (benchmarked against a bare gRPC echo); an INSERT and a
COMMIT per read would cost a WAL flush each (≈ 2,100/s on the reference machine) and cap
reads there. Instead, `AuditWriter.record()` appends to an in-memory buffer and returns
at once; a background task writes the buffer every `interval` seconds (≈ 100 ms) with one
COPY, and the service's shutdown flushes what is left once in-flight calls have finished
(`ServiceRuntime.on_drained`).

Durability trade-off, accepted on purpose: a record is durable about `interval` seconds
after the read, not with it. If the process dies abruptly (SIGKILL, OOM, host loss),
records of the last interval are lost; a graceful stop (SIGTERM) loses nothing. If the
database is unreachable the buffer is kept and retried, up to `max_buffer` records, after
which the oldest are dropped with an error log rather than exhausting memory. Reads are
never refused because the trail is slow. Where a read must not happen without its record
(e.g. a bulk export), call `write_now()` inside the request's own transaction instead.

The table is append-only: a trigger refuses UPDATE and DELETE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger("atelier.audit")

DDL = """
CREATE TABLE audit_records (
    id          bigserial PRIMARY KEY,
    occur_time  timestamptz NOT NULL,
    actor       text NOT NULL,
    role        text NOT NULL,
    action      text NOT NULL,
    resource    text NOT NULL,
    purpose     text NOT NULL,
    request_id  text NOT NULL DEFAULT ''
);
CREATE INDEX audit_records_resource ON audit_records (resource, occur_time DESC, id DESC);
CREATE INDEX audit_records_actor ON audit_records (actor, occur_time DESC, id DESC);
CREATE INDEX audit_records_time ON audit_records (occur_time DESC, id DESC);

CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only';
END $$;
CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
"""

DROP_DDL = """
DROP TABLE audit_records;
DROP FUNCTION audit_records_append_only();
"""

_COPY = "COPY audit_records (occur_time, actor, role, action, resource, purpose, request_id) FROM STDIN"


@dataclass(frozen=True)
class AuditRecord:
    actor: str
    role: str
    action: str
    resource: str
    purpose: str
    request_id: str = ""
    occur_time: datetime = field(default_factory=lambda: datetime.now(UTC))

    def row(self) -> tuple[datetime, str, str, str, str, str, str]:
        return (self.occur_time, self.actor, self.role, self.action, self.resource, self.purpose, self.request_id)


async def write_now(conn: AsyncConnection, *records: AuditRecord) -> None:
    """Write records in the caller's transaction (durable with it)."""
    if not records:
        return
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if driver is None:
        raise RuntimeError("the audit COPY needs a live psycopg connection")
    async with driver.cursor() as cur, cur.copy(_COPY) as copy:
        for r in records:
            await copy.write_row(r.row())


class AuditWriter:
    def __init__(self, engine: AsyncEngine, *, interval: float = 0.1, max_buffer: int = 100_000):
        self._engine = engine
        self._interval = interval
        self._max_buffer = max_buffer
        self._buffer: list[AuditRecord] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._lock = asyncio.Lock()

    def record(self, record: AuditRecord) -> None:
        """Buffer a record; never blocks, never fails the caller."""
        self._buffer.append(record)
        if len(self._buffer) > self._max_buffer:
            dropped = len(self._buffer) - self._max_buffer
            del self._buffer[:dropped]
            log.error("audit buffer full: dropped %d oldest records", dropped)
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-writer")

    async def _run(self) -> None:
        while not self._closed:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("audit flush failed; retrying")

    async def flush(self) -> int:
        """Write everything buffered so far; returns how many records were written."""
        async with self._lock:
            if not self._buffer:
                return 0
            batch, self._buffer = self._buffer, []
            try:
                async with self._engine.begin() as conn:
                    await write_now(conn, *batch)
            except BaseException:
                self._buffer[:0] = batch  # keep them for the next attempt, in order
                raise
            return len(batch)

    async def close(self) -> None:
        """Final flush; for ServiceRuntime.on_drained."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            # _run logs and survives its own failures: cancelling it is the only way it ends.
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
