"""Idempotent creates keyed by `request_id` (AIP-155).

The key row is inserted first, in the create's own transaction: a concurrent request with
the same key waits on the primary key until the first commits, then finds the stored
response. If the first transaction rolls back, its key goes with it and the waiter
proceeds as the first. A key reused for a different request is refused.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection

from servicekit.errors import FailedPrecondition, invalid
from servicekit.events import customer_of

DDL = """
CREATE TABLE idempotency_keys (
    method       text NOT NULL,
    request_id   text NOT NULL,
    request_hash text NOT NULL,
    response     bytea,
    create_time  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (method, request_id)
);
"""

_CLAIM = sa.text(
    "INSERT INTO idempotency_keys (method, request_id, request_hash) VALUES (:m, :r, :h) "
    "ON CONFLICT DO NOTHING RETURNING request_id"
)
_EXISTING = sa.text("SELECT request_hash, response FROM idempotency_keys WHERE method = :m AND request_id = :r")
_STORE = sa.text("UPDATE idempotency_keys SET response = :resp WHERE method = :m AND request_id = :r")


def check_request_id(request_id: str, field: str = "request_id") -> None:
    if request_id:
        try:
            uuid.UUID(request_id)
        except ValueError:
            raise invalid(field, "must be a UUID") from None


def fingerprint(request: Message, caller: str) -> str:
    digest = hashlib.sha256(caller.encode() + b"\0")
    digest.update(request.SerializeToString(deterministic=True))
    return digest.hexdigest()


async def claim(conn: AsyncConnection, method: str, request_id: str, request: Message, caller: str) -> bytes | None:
    """None when this call owns the key (go ahead and create); else the first response.
    The caller is part of the fingerprint: a request id replayed by someone else is
    refused rather than answered with another caller's result."""
    digest = fingerprint(request, caller)
    params = {"m": method, "r": request_id, "h": digest}
    if (await conn.execute(_CLAIM, params)).first() is not None:
        return None
    row = (await conn.execute(_EXISTING, params)).one()
    if row.request_hash.startswith(_TOMBSTONE):
        raise FailedPrecondition(
            "this request's result was withdrawn (the person it concerned was erased)",
            reason=row.request_hash.removeprefix(_TOMBSTONE),
            metadata={"request_id": request_id},
        )
    if row.request_hash != digest:
        raise FailedPrecondition(
            "request_id was already used for a different request or by another caller",
            reason="REQUEST_ID_REUSED",
            metadata={"request_id": request_id},
        )
    response: bytes | None = row.response
    return response


async def remember(conn: AsyncConnection, method: str, request_id: str, response: Message) -> None:
    await conn.execute(_STORE, {"m": method, "r": request_id, "resp": response.SerializeToString()})


# -- withdrawing stored replies (erasure) -------------------------------------------------

# A withdrawn key keeps its row with `tombstone:<REASON>` in place of the fingerprint: a
# replay is refused with that reason instead of being answered or run again.
_TOMBSTONE = "tombstone:"

# Stored replies that may name one of these resources: candidates only, to be decided on
# the decoded reply (a name that merely contains hers is not hers).
_STORED_REPLIES = sa.text(
    """
    SELECT method, request_id, response FROM idempotency_keys k WHERE k.response IS NOT NULL AND EXISTS (
        SELECT 1 FROM unnest(CAST(:names AS text[])) n WHERE position(convert_to(n, 'UTF8') IN k.response) > 0)
    """
)
_WITHDRAW = sa.text(
    "UPDATE idempotency_keys SET response = NULL, request_hash = :tombstone WHERE method = :m AND request_id = :r"
)


@dataclass(frozen=True)
class StoredReply:
    method: str
    request_id: str
    response: bytes


async def stored_replies(conn: AsyncConnection, names: list[str]) -> list[StoredReply]:
    """Stored replies whose bytes contain one of `names` (decide on the decoded reply)."""
    if not names:
        return []
    rows = await conn.execute(_STORED_REPLIES, {"names": names})
    return [StoredReply(r.method, r.request_id, bytes(r.response)) for r in rows]


async def withdraw(conn: AsyncConnection, keys: list[tuple[str, str]], reason: str) -> int:
    """Drop these (method, request_id) replies, keeping their keys as tombstones: a replay
    is refused with FAILED_PRECONDITION `reason` and nothing of the reply is kept."""
    if keys:
        await conn.execute(_WITHDRAW, [{"m": m, "r": r, "tombstone": _TOMBSTONE + reason} for m, r in keys])
    return len(keys)


# What each idempotent method stores and the fields of that reply that name customers (or
# their child resources): what erasure reads to tell whether a stored reply is about her.
ReplyNames = Mapping[str, tuple[type[Message], tuple[str, ...]]]


def customers_named(kinds: ReplyNames, method: str, reply: bytes) -> set[str]:
    """The customers (`customers/{id}`) a stored reply of `method` is about, by equality
    of the names it carries; none for a method whose reply names no customer."""
    kind, fields = kinds.get(method, (None, ()))
    if kind is None:
        return set()
    message = kind.FromString(reply)
    return {customer_of(str(getattr(message, f))) for f in fields} - {""}
