"""Associate notes about a customer, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

_INSERT = sa.text(
    "INSERT INTO notes (id, customer_id, text, author) VALUES (:id, :cid, :text, :author) "
    "RETURNING id, text, author, create_time"
)
_GET_MANY = sa.text("SELECT id, text, author, create_time FROM notes WHERE id = ANY(:ids)")
_PAGE = sa.text(
    """
    SELECT id, text, author, create_time FROM notes
    WHERE customer_id = :cid
      AND (CAST(:before_time AS timestamptz) IS NULL
           OR (create_time, id) < (CAST(:before_time AS timestamptz), :before_id))
    ORDER BY create_time DESC, id DESC LIMIT :limit
    """
)


@dataclass(frozen=True)
class NoteRow:
    id: str
    text: str
    author: str
    create_time: datetime


def _row(r: sa.Row[Any]) -> NoteRow:
    return NoteRow(r.id, r.text, r.author, r.create_time)


async def insert(conn: AsyncConnection, note_id: str, customer_id: str, text: str, author: str) -> NoteRow:
    params = {"id": note_id, "cid": customer_id, "text": text, "author": author}
    return _row((await conn.execute(_INSERT, params)).one())


async def page(conn: AsyncConnection, customer_id: str, before: list[Any] | None, limit: int) -> list[NoteRow]:
    before_time, before_id = before if before else (None, None)
    params = {"cid": customer_id, "before_time": before_time, "before_id": before_id, "limit": limit}
    return [_row(r) for r in await conn.execute(_PAGE, params)]


async def get_many(conn: AsyncConnection, ids: list[str]) -> dict[str, NoteRow]:
    if not ids:
        return {}
    return {r.id: _row(r) for r in await conn.execute(_GET_MANY, {"ids": ids})}
