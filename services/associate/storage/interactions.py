"""The interaction log: every interaction the service has seen, shared by the task and the
attribution consumers. Each writes the row it sees (ON CONFLICT DO NOTHING), so whichever
consumer gets the event first records it and the other finds it there."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.task_access import bare

_INSERT = sa.text(
    """
    INSERT INTO interaction_log (interaction, customer_id, kind, direction, channel, store_id, associate_id, occur_time)
    VALUES (:name, :cid, :kind, :direction, :channel, :store, :associate, :at)
    ON CONFLICT (interaction) DO NOTHING
    """
)


async def record(
    conn: AsyncConnection,
    *,
    name: str,
    customer_id: str,
    kind: int,
    direction: int,
    channel: int,
    store: str,
    associate: str,
    occur_time: datetime,
) -> None:
    await conn.execute(
        _INSERT,
        {
            "name": name, "cid": customer_id, "kind": kind, "direction": direction, "channel": channel,
            "store": bare(store, "stores"), "associate": bare(associate, "associates"), "at": occur_time,
        },
    )


_LAST_BEFORE = sa.text(
    "SELECT max(occur_time) FROM interaction_log WHERE customer_id = :cid AND occur_time <= :at"
)


async def last_before(conn: AsyncConnection, customer_id: str, at: datetime) -> datetime | None:
    return (await conn.execute(_LAST_BEFORE, {"cid": customer_id, "at": at})).scalar()


async def repoint(conn: AsyncConnection, duplicate: str, survivor: str) -> None:
    """A merge: what was known of the duplicate now belongs to the survivor."""
    await conn.execute(
        sa.text("UPDATE interaction_log SET customer_id = :s WHERE customer_id = :d"), {"s": survivor, "d": duplicate}
    )


async def forget(conn: AsyncConnection, customer_id: str) -> None:
    await conn.execute(sa.text("DELETE FROM interaction_log WHERE customer_id = :cid"), {"cid": customer_id})
