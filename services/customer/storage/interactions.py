"""Interactions (touchpoints) of the timeline."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

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


@dataclass(frozen=True)
class InteractionRow(NewInteraction):
    """An interaction as recorded: with its id, her id and when it was recorded."""

    id: str
    customer_id: str
    create_time: datetime


def _row(r: sa.Row[Any]) -> InteractionRow:
    return InteractionRow(**r._asdict())


async def insert(
    conn: AsyncConnection, interaction_id: str, customer_id: str, new: NewInteraction
) -> tuple[InteractionRow, bool]:
    """The stored row, and whether it is new: a replayed external id returns the row
    recorded the first time (the unique constraint decides)."""
    params = {**asdict(new), "id": interaction_id, "cid": customer_id}
    row = (await conn.execute(_INSERT, params)).first()
    if row is not None:
        return _row(row), True
    existing = await conn.execute(
        _BY_EXTERNAL, {"kind": new.kind, "channel": new.channel, "external_id": new.external_id}
    )
    return _row(existing.one()), False


async def get_many(conn: AsyncConnection, ids: list[str]) -> dict[str, InteractionRow]:
    if not ids:
        return {}
    return {r.id: _row(r) for r in (await conn.execute(_GET_MANY, {"ids": ids})).all()}
