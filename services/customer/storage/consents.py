"""Consent history rows; the current consent is derived from them (latest per channel ×
purpose) in customers.get_many."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

_INSERT = sa.text(
    """
    INSERT INTO consent_changes (customer_id, channel, purpose, granted, source, actor)
    VALUES (:id, :channel, :purpose, :granted, :source, :actor)
    RETURNING change_time
    """
)

_PAGE = sa.text(
    """
    SELECT id, channel, purpose, granted, source, actor, change_time FROM consent_changes
    WHERE customer_id = :cid AND (CAST(:before AS bigint) IS NULL OR id < :before)
    ORDER BY id DESC LIMIT :limit
    """
)


async def record(conn: AsyncConnection, customer_id: str, channel: int, purpose: int, granted: bool, source: str, actor: str):
    row = (
        await conn.execute(
            _INSERT,
            {"id": customer_id, "channel": channel, "purpose": purpose, "granted": granted, "source": source, "actor": actor},
        )
    ).one()
    return row.change_time


async def page(conn: AsyncConnection, customer_id: str, before: int | None, limit: int):
    return (await conn.execute(_PAGE, {"cid": customer_id, "before": before, "limit": limit})).all()
