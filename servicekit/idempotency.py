"""Idempotent creates keyed by `request_id` (AIP-155).

The key row is inserted first, in the create's own transaction: a concurrent request with
the same key waits on the primary key until the first commits, then finds the stored
response. If the first transaction rolls back, its key goes with it and the waiter
proceeds as the first. A key reused for a different request is refused.
"""

from __future__ import annotations

import hashlib
import uuid

import sqlalchemy as sa
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection

from servicekit.errors import FailedPrecondition, invalid

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
