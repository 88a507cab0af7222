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
    "external_id, occur_time, create_time, request_fingerprint"
)
_INSERT = sa.text(
    f"""
    INSERT INTO interactions (id, customer_id, kind, channel, direction, preview, store, associate,
                              referral_code, reference, external_id, occur_time, request_fingerprint)
    VALUES (:id, :cid, :kind, :channel, :direction, :preview, :store, :associate, :referral_code,
            :reference, :external_id, :occur_time, :fingerprint)
    ON CONFLICT ON CONSTRAINT interactions_external_unique DO NOTHING
    RETURNING {_COLUMNS}
    """
)
_BY_EXTERNAL = sa.text(
    f"SELECT {_COLUMNS} FROM interactions"
    " WHERE customer_id = :cid AND kind = :kind AND channel = :channel AND external_id = :external_id"
)
_GET_MANY = sa.text(f"SELECT {_COLUMNS} FROM interactions WHERE id = ANY(:ids)")


@dataclass(frozen=True)
class InteractionRow(NewInteraction):
    """An interaction as recorded: with its id, her id, when it was recorded and the
    digest of the request that recorded it (domain/replays; None before they were kept)."""

    id: str
    customer_id: str
    create_time: datetime
    request_fingerprint: str | None = None


def _row(r: sa.Row[Any]) -> InteractionRow:
    return InteractionRow(**r._asdict())


async def insert(
    conn: AsyncConnection, interaction_id: str, customer_id: str, new: NewInteraction, fingerprint: str
) -> tuple[InteractionRow, bool]:
    """The stored row, and whether it is new: an external id already recorded for her
    (same kind and channel) returns the row recorded the first time (the unique
    constraint decides)."""
    params = {**asdict(new), "id": interaction_id, "cid": customer_id, "fingerprint": fingerprint}
    row = (await conn.execute(_INSERT, params)).first()
    if row is not None:
        return _row(row), True
    existing = await conn.execute(
        _BY_EXTERNAL, {"cid": customer_id, "kind": new.kind, "channel": new.channel, "external_id": new.external_id}
    )
    return _row(existing.one()), False


async def get_many(conn: AsyncConnection, ids: list[str]) -> dict[str, InteractionRow]:
    if not ids:
        return {}
    return {r.id: _row(r) for r in (await conn.execute(_GET_MANY, {"ids": ids})).all()}
