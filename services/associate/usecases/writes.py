"""What writes share: a create is written and published in one unit of work, and a replay
of the same request (same request_id, same caller) answers the first result; an update
arrives as a Change read from the API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.message import Message

from atelier.events.v1 import envelope_pb2
from servicekit.auth import Principal
from servicekit.uow import Idempotent, Transactions, UnitOfWork

M = TypeVar("M", bound=Message)


async def create_once(
    tx: Transactions,
    caller: Principal,
    idempotent: Idempotent[M],
    insert: Callable[[UnitOfWork], Awaitable[M]],
    published: Callable[[M, str], envelope_pb2.EventEnvelope],
) -> M:
    """`insert` writes the resource and answers its message; `published(message, actor)`
    is its created event."""

    async def work(uow: UnitOfWork) -> M:
        created = await insert(uow)
        uow.emit(published(created, caller.subject))
        return created

    return await tx.run(caller, work, idempotent=idempotent)


@dataclass(frozen=True)
class Change:
    """An update read from the API: the resource (`id`, and its `name` for errors), the
    fields its update mask names with their new values, and the version its etag names
    (None: the caller sent no etag)."""

    id: str
    name: str
    paths: set[str]
    values: Mapping[str, object]
    expected: int | None
