"""Claims: an associate's request to hold a customer, decided by a manager."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from servicekit.errors import AlreadyExists

PENDING, APPROVED, REJECTED = 1, 2, 3

_COLUMNS = "id, customer_id, associate_id, reason, state, decision_note, decided_by, create_time, decide_time"
_INSERT = sa.text(
    f"INSERT INTO claims (id, customer_id, associate_id, reason) VALUES (:id, :c, :a, :reason) RETURNING {_COLUMNS}"
)
_GET_LOCKED = sa.text(f"SELECT {_COLUMNS} FROM claims WHERE id = :id FOR UPDATE")
_DECIDE = sa.text(
    f"""
    UPDATE claims SET state = :state, decision_note = :note, decided_by = :by, decide_time = now()
    WHERE id = :id RETURNING {_COLUMNS}
    """
)


async def insert(conn: AsyncConnection, claim_id: str, customer_id: str, associate_id: str, reason: str):
    try:
        async with conn.begin_nested():
            return (await conn.execute(_INSERT, {"id": claim_id, "c": customer_id, "a": associate_id, "reason": reason})).one()
    except IntegrityError as exc:
        if "claims_one_pending" in str(exc.orig):
            raise AlreadyExists(
                f"associates/{associate_id} already has a pending claim on customers/{customer_id}",
                reason="CLAIM_PENDING", metadata={"customer": f"customers/{customer_id}"},
            ) from None
        raise


async def get_locked(conn: AsyncConnection, claim_id: str):
    return (await conn.execute(_GET_LOCKED, {"id": claim_id})).first()


async def decide(conn: AsyncConnection, claim_id: str, state: int, note: str, by: str):
    return (await conn.execute(_DECIDE, {"id": claim_id, "state": state, "note": note, "by": by})).one()


async def page(conn: AsyncConnection, *, state: int | None, associate: str | None, store: str | None,
               after: list | None, limit: int) -> list:
    where, params = [], {"limit": limit}
    if state:
        where.append("c.state = :state")
        params["state"] = state
    if associate is not None:
        where.append("c.associate_id = :associate")
        params["associate"] = associate
    if store is not None:
        where.append("s.store_id = :store")
        params["store"] = store
    if after is not None:
        where.append("(c.create_time, c.id) > (CAST(:t AS timestamptz), :i)")
        params["t"], params["i"] = after
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    cols = ", ".join(f"c.{c.strip()}" for c in _COLUMNS.split(","))
    stmt = sa.text(
        f"SELECT {cols} FROM claims c JOIN associates s ON s.id = c.associate_id{clause} "
        "ORDER BY c.create_time, c.id LIMIT :limit"
    )
    return (await conn.execute(stmt, params)).all()
