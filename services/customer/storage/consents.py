"""Consent history rows; the current consent (domain/consent.py: the latest answer per
channel × purpose) is derived from them in customers.get_many."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.consent import Answer, Choice

_INSERT = sa.text(
    """
    INSERT INTO consent_changes (customer_id, channel, purpose, granted, source, actor)
    VALUES (:id, :channel, :purpose, :granted, :source, :actor)
    RETURNING change_time
    """
)

_GET_MANY = sa.text(
    "SELECT id, channel, purpose, granted, source, actor, change_time FROM consent_changes WHERE id = ANY(:ids)"
)
_PAGE = sa.text(
    """
    SELECT id, channel, purpose, granted, source, actor, change_time FROM consent_changes
    WHERE customer_id = :cid AND (CAST(:before AS bigint) IS NULL OR id < :before)
    ORDER BY id DESC LIMIT :limit
    """
)


async def record(conn: AsyncConnection, customer_id: str, choice: Choice, actor: str) -> datetime:
    """Add an answer to her history; returns when it was recorded."""
    params = {
        "id": customer_id,
        "channel": choice.channel,
        "purpose": choice.purpose,
        "granted": choice.granted,
        "source": choice.source,
        "actor": actor,
    }
    change_time: datetime = (await conn.execute(_INSERT, params)).one().change_time
    return change_time


def _answer(r: sa.Row[Any]) -> Answer:
    return Answer(r.channel, r.purpose, r.granted, r.source, r.actor, r.change_time)


async def page(conn: AsyncConnection, customer_id: str, before: int | None, limit: int) -> list[tuple[int, Answer]]:
    """(id, answer) of her history, newest first, before the id `before`."""
    rows = await conn.execute(_PAGE, {"cid": customer_id, "before": before, "limit": limit})
    return [(r.id, _answer(r)) for r in rows]


async def get_many(conn: AsyncConnection, ids: list[int]) -> dict[int, Answer]:
    if not ids:
        return {}
    return {r.id: _answer(r) for r in await conn.execute(_GET_MANY, {"ids": ids})}
