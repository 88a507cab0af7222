"""Associate notes about a customer, newest first."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

_INSERT = sa.text(
    "INSERT INTO notes (id, customer_id, text, author) VALUES (:id, :cid, :text, :author) "
    "RETURNING id, text, author, create_time"
)
_PAGE = sa.text(
    """
    SELECT id, text, author, create_time FROM notes
    WHERE customer_id = :cid
      AND (CAST(:before_time AS timestamptz) IS NULL
           OR (create_time, id) < (CAST(:before_time AS timestamptz), :before_id))
    ORDER BY create_time DESC, id DESC LIMIT :limit
    """
)


async def insert(conn: AsyncConnection, note_id: str, customer_id: str, text: str, author: str):
    return (await conn.execute(_INSERT, {"id": note_id, "cid": customer_id, "text": text, "author": author})).one()


async def page(conn: AsyncConnection, customer_id: str, before: list | None, limit: int):
    before_time, before_id = before if before else (None, None)
    return (
        await conn.execute(
            _PAGE, {"cid": customer_id, "before_time": before_time, "before_id": before_id, "limit": limit}
        )
    ).all()
