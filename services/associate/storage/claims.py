"""Claims: an associate's request to hold a customer, decided by a manager."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from servicekit.errors import AlreadyExists

from .statements import Filter, Position, as_row, as_rows, constraint, first, guarded


@dataclass(frozen=True)
class ClaimRow:
    id: str
    customer_id: str
    associate_id: str
    reason: str
    state: int
    decision_note: str
    decided_by: str
    create_time: datetime
    decide_time: datetime | None


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
_PAGE = "SELECT {columns} FROM claims c JOIN associates s ON s.id = c.associate_id{where} ORDER BY c.create_time, c.id LIMIT :limit"


async def insert(conn: AsyncConnection, claim_id: str, customer_id: str, associate_id: str, reason: str) -> ClaimRow:
    def translate(exc: IntegrityError) -> AlreadyExists | None:
        if "claims_one_pending" not in constraint(exc):
            return None
        return AlreadyExists(
            f"associates/{associate_id} already has a pending claim on customers/{customer_id}",
            reason="CLAIM_PENDING",
            metadata={"customer": f"customers/{customer_id}"},
        )

    params = {"id": claim_id, "c": customer_id, "a": associate_id, "reason": reason}
    return as_row(ClaimRow, await guarded(conn, _INSERT, params, translate))


async def get_locked(conn: AsyncConnection, claim_id: str) -> ClaimRow | None:
    return await first(conn, ClaimRow, _GET_LOCKED, id=claim_id)


async def decide(conn: AsyncConnection, claim_id: str, state: int, note: str, by: str) -> ClaimRow:
    params = {"id": claim_id, "state": state, "note": note, "by": by}
    return as_row(ClaimRow, (await conn.execute(_DECIDE, params)).one())


async def page(
    conn: AsyncConnection, state: int | None, associate: str | None, store: str | None, after: Position, limit: int
) -> list[ClaimRow]:
    """Oldest first; None: any state, associate or store."""
    where = Filter(limit)
    if state:
        where.add("c.state = :state", state=state)
    if associate is not None:
        where.add("c.associate_id = :associate", associate=associate)
    if store is not None:
        where.add("s.store_id = :store", store=store)
    where.after("(c.create_time, c.id)", after)
    columns = ", ".join(f"c.{c.strip()}" for c in _COLUMNS.split(","))
    statement = sa.text(_PAGE.format(columns=columns, where=where.where))
    return as_rows(ClaimRow, (await conn.execute(statement, where.params)).all())
