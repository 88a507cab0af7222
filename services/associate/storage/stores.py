"""Stores: SQLAlchemy Core statements over the caller's connection."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from servicekit.errors import AlreadyExists

from .statements import (
    Filter,
    Position,
    Translate,
    as_row,
    as_rows,
    by_id,
    constraint,
    first,
    guarded,
    versioned_update,
)


@dataclass(frozen=True)
class StoreRow:
    id: str
    code: str
    display_name: str
    time_zone: str
    region: str
    weekly_hours: list[dict[str, Any]]
    exceptions: list[dict[str, Any]]
    version: int
    create_time: datetime
    update_time: datetime


_COLUMNS = "id, code, display_name, time_zone, region, weekly_hours, exceptions, version, create_time, update_time"
_TYPES = {"weekly_hours": JSONB(), "exceptions": JSONB()}
_GET, _GET_LOCKED = by_id(f"SELECT {_COLUMNS} FROM stores")
_INSERT = sa.text(
    f"""
    INSERT INTO stores (id, code, display_name, time_zone, region, weekly_hours, exceptions)
    VALUES (:id, :code, :display_name, :time_zone, :region, :weekly_hours, :exceptions)
    RETURNING {_COLUMNS}
    """
).bindparams(*(sa.bindparam(k, type_=t) for k, t in _TYPES.items()))


async def get(conn: AsyncConnection, store_id: str, *, lock: bool = False) -> StoreRow | None:
    return await first(conn, StoreRow, _GET_LOCKED if lock else _GET, id=store_id)


def _conflict(store_id: str, code: str) -> Translate:
    def translate(exc: IntegrityError) -> AlreadyExists:
        if "stores_code_unique" in constraint(exc):
            return AlreadyExists(f"store code {code} is taken", reason="STORE_CODE_TAKEN", metadata={"code": code})
        return AlreadyExists(
            f"stores/{store_id} already exists", reason="STORE_EXISTS", metadata={"resource": f"stores/{store_id}"}
        )

    return translate


async def insert(conn: AsyncConnection, store_id: str, values: Mapping[str, object]) -> StoreRow:
    params = {"id": store_id, "region": "", "weekly_hours": [], "exceptions": [], **values}
    code = str(values.get("code", ""))
    return as_row(StoreRow, await guarded(conn, _INSERT, params, _conflict(store_id, code)))


async def update(conn: AsyncConnection, store_id: str, values: Mapping[str, object]) -> StoreRow:
    statement = versioned_update("stores", _COLUMNS, values, _TYPES)
    code = str(values.get("code", ""))
    return as_row(StoreRow, await guarded(conn, statement, {"id": store_id, **values}, _conflict(store_id, code)))


async def page(conn: AsyncConnection, region: str | None, after: Position, limit: int) -> list[StoreRow]:
    where = Filter(limit)
    if region is not None:
        where.add("region = :region", region=region)
    where.after("(create_time, id)", after)
    statement = sa.text(f"SELECT {_COLUMNS} FROM stores{where.where} ORDER BY create_time, id LIMIT :limit")
    return as_rows(StoreRow, (await conn.execute(statement, where.params)).all())
