"""Interactions (touchpoints) of the timeline."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.interactions import NewInteraction

_COLUMNS = (
    "id, customer_id, kind, channel, direction, preview, store, associate, referral_code, reference, "
    "external_id, occur_time, create_time"
)
_INSERT = sa.text(
    f"""
    INSERT INTO interactions (id, customer_id, kind, channel, direction, preview, store, associate,
                              referral_code, reference, external_id, occur_time)
    VALUES (:id, :cid, :kind, :channel, :direction, :preview, :store, :associate, :referral_code,
            :reference, :external_id, :occur_time)
    ON CONFLICT ON CONSTRAINT interactions_external_unique DO NOTHING
    RETURNING {_COLUMNS}
    """
)
_BY_EXTERNAL = sa.text(
    f"SELECT {_COLUMNS} FROM interactions WHERE kind = :kind AND channel = :channel AND external_id = :external_id"
)
_GET_MANY = sa.text(f"SELECT {_COLUMNS} FROM interactions WHERE id = ANY(:ids)")


async def insert(conn: AsyncConnection, interaction_id: str, customer_id: str, new: NewInteraction):
    """The stored row, and whether it is new: a replayed external id returns the row
    recorded the first time (the unique constraint decides)."""
    params = {
        "id": interaction_id, "cid": customer_id, "kind": new.kind, "channel": new.channel,
        "direction": new.direction, "preview": new.preview, "store": new.store, "associate": new.associate,
        "referral_code": new.referral_code, "reference": new.reference, "external_id": new.external_id,
        "occur_time": new.occur_time,
    }
    row = (await conn.execute(_INSERT, params)).first()
    if row is not None:
        return row, True
    existing = await conn.execute(
        _BY_EXTERNAL, {"kind": new.kind, "channel": new.channel, "external_id": new.external_id}
    )
    return existing.one(), False


async def get_many(conn: AsyncConnection, ids: list[str]) -> dict:
    if not ids:
        return {}
    return {r.id: r for r in (await conn.execute(_GET_MANY, {"ids": ids})).all()}
