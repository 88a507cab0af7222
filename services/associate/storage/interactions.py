"""The interaction log: every interaction the service has seen, shared by the task and the
attribution consumers. Each writes the row it sees (ON CONFLICT DO NOTHING), so whichever
consumer gets the event first records it and the other finds it there."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.interactions import Interaction
from ..domain.names import bare

_INSERT = sa.text(
    """
    INSERT INTO interaction_log (interaction, customer_id, kind, direction, channel, store_id, associate_id, occur_time)
    VALUES (:name, :cid, :kind, :direction, :channel, :store, :associate, :at)
    ON CONFLICT (interaction) DO NOTHING
    """
)
_LAST_BEFORE = sa.text("SELECT max(occur_time) FROM interaction_log WHERE customer_id = :cid AND occur_time <= :at")
_REPOINT = sa.text("UPDATE interaction_log SET customer_id = :s WHERE customer_id = :d")
_FORGET = sa.text("DELETE FROM interaction_log WHERE customer_id = :cid")


async def record(conn: AsyncConnection, it: Interaction) -> None:
    await conn.execute(
        _INSERT,
        {
            "name": it.name,
            "cid": it.customer_id,
            "kind": it.kind,
            "direction": it.direction,
            "channel": it.channel,
            "store": bare(it.store, "stores"),
            "associate": bare(it.associate, "associates"),
            "at": it.occur_time,
        },
    )


async def last_before(conn: AsyncConnection, customer_id: str, at: datetime) -> datetime | None:
    found: datetime | None = (await conn.execute(_LAST_BEFORE, {"cid": customer_id, "at": at})).scalar()
    return found


async def repoint(conn: AsyncConnection, duplicate: str, survivor: str) -> None:
    """A merge: what was known of the duplicate now belongs to the survivor."""
    await conn.execute(_REPOINT, {"s": survivor, "d": duplicate})


async def forget(conn: AsyncConnection, customer_id: str) -> None:
    await conn.execute(_FORGET, {"cid": customer_id})
