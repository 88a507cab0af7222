"""The unit of work: the one way a use case changes state.

A use case opens exactly one unit of work (`Transactions.run`); inside it:

* one database transaction, on `uow.conn`;
* the events the change produces, handed to `uow.emit` and written to the outbox in that
  same transaction just before it commits (they exist only if the change does);
* for creates carrying a `request_id` (AIP-155): the key is claimed first, a replay by
  the same caller answers the stored first reply without writing anything, a reuse for a
  different request is refused, and the reply is stored with the change;
* the optimistic-concurrency check (`check_etag`), one wording for every resource.

Event consumers get a unit of work too (servicekit.inbox opens it, with the inbox row in
the same transaction), so an RPC and a consumer doing the same thing share one use case.

The update-mask check lives here as well: every Update RPC validates its mask the same
way before its use case runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from atelier.events.v1 import envelope_pb2
from servicekit import db, idempotency, outbox, wire
from servicekit.auth import Principal
from servicekit.errors import Aborted, Violations

T = TypeVar("T")
R = TypeVar("R", bound=Message)


class UnitOfWork:
    """One transaction of one use case, as seen by the use case."""

    def __init__(self, conn: AsyncConnection, caller: Principal):
        self.conn = conn
        self.caller = caller
        self._events: list[envelope_pb2.EventEnvelope] = []

    def emit(self, *envelopes: envelope_pb2.EventEnvelope) -> None:
        """Publish these events if, and only if, the unit of work commits."""
        self._events.extend(envelopes)

    async def _record_events(self) -> None:
        if self._events:
            events, self._events = self._events, []
            await outbox.record(self.conn, *events)


@dataclass(frozen=True)
class Idempotent(Generic[R]):
    """What makes a create replayable: the method, the request (its `request_id` is the
    key and its bytes the fingerprint) and the type of the reply to store."""

    method: str
    request: Any
    reply: type[R]

    @property
    def request_id(self) -> str:
        return str(self.request.request_id)


class Transactions:
    """The factory of units of work for one service's database (one per process)."""

    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        # Single-statement reads skip BEGIN/ROLLBACK: one round trip instead of three.
        self._reader = db.autocommit(engine)

    @asynccontextmanager
    async def begin(self, caller: Principal) -> AsyncIterator[UnitOfWork]:
        """A unit of work as a block, for use cases that need no idempotency key."""
        async with self.engine.begin() as conn:
            uow = UnitOfWork(conn, caller)
            yield uow
            await uow._record_events()

    async def run(
        self,
        caller: Principal,
        work: Callable[[UnitOfWork], Awaitable[R]],
        *,
        idempotent: Idempotent[R] | None = None,
    ) -> R:
        """Run `work` in one unit of work; with `idempotent` and a request id, a replay
        answers the first reply and changes nothing."""
        async with self.begin(caller) as uow:
            key = idempotent.request_id if idempotent is not None else ""
            if idempotent is not None and key:
                first = await idempotency.claim(uow.conn, idempotent.method, key, idempotent.request, caller.subject)
                if first is not None:
                    return idempotent.reply.FromString(first)
            reply = await work(uow)
            if idempotent is not None and key:
                await idempotency.remember(uow.conn, idempotent.method, key, reply)
            return reply

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for a read of one statement (autocommit)."""
        async with self._reader.connect() as conn:
            yield conn

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncConnection]:
        """A connection whose statements share one transaction (several related reads)."""
        async with self.engine.connect() as conn:
            yield conn


async def in_unit_of_work(conn: AsyncConnection, caller: Principal, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run `work` as a unit of work on a transaction someone else opened and will commit
    (the inbox, which records the event id in it)."""
    uow = UnitOfWork(conn, caller)
    result = await work(uow)
    await uow._record_events()
    return result


def check_etag(expected: int | None, current: int) -> None:
    """Optimistic concurrency (AIP-154): a stale etag is ABORTED with the current one."""
    if expected is not None and expected != current:
        raise Aborted(
            "the resource changed since it was read; get it again and retry",
            reason="ETAG_MISMATCH",
            metadata={"current_etag": wire.etag(current)},
        )


def parse_etag(value: str, field_path: str, violations: Violations) -> int | None:
    """The version an etag names, None when the request carries none; a value this API
    did not issue is a violation of `field_path`."""
    if not value:
        return None
    version = wire.parse_etag(value)
    if version is None:
        violations.add(field_path, "not an etag returned by this API")
    return version


def update_paths(
    paths: Iterable[str],
    updatable: Iterable[str],
    output_only: Iterable[str],
    violations: Violations,
    *,
    field_path: str = "update_mask",
) -> set[str]:
    """The fields an update mask names (AIP-134): `*` means every updatable field; an
    empty mask, an output-only field or an unknown one is a violation."""
    requested = set(paths)
    allowed = set(updatable)
    if not requested:
        violations.add(field_path, "required: the fields to change, or * for all")
        return set()
    if "*" in requested:
        return allowed
    frozen = set(output_only)
    for path in sorted(requested):
        if path in frozen:
            violations.add(field_path, f"{path} cannot be changed")
        elif path not in allowed:
            violations.add(field_path, f"unknown field {path}")
    return requested & allowed
