"""Stores: SQLAlchemy Core statements over the caller's connection."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from servicekit.errors import AlreadyExists

_COLUMNS = "id, code, display_name, time_zone, region, weekly_hours, exceptions, version, create_time, update_time"
_GET = sa.text(f"SELECT {_COLUMNS} FROM stores WHERE id = :id")
_GET_LOCKED = sa.text(f"SELECT {_COLUMNS} FROM stores WHERE id = :id FOR UPDATE")
_INSERT = sa.text(
    f"""
    INSERT INTO stores (id, code, display_name, time_zone, region, weekly_hours, exceptions)
    VALUES (:id, :code, :display_name, :time_zone, :region, :weekly_hours, :exceptions)
    RETURNING {_COLUMNS}
    """
).bindparams(sa.bindparam("weekly_hours", type_=JSONB), sa.bindparam("exceptions", type_=JSONB))


async def get(conn: AsyncConnection, store_id: str, *, lock: bool = False):
    return (await conn.execute(_GET_LOCKED if lock else _GET, {"id": store_id})).first()


async def insert(conn: AsyncConnection, store_id: str, values: dict) -> Any:
    params = {"id": store_id, "region": "", "weekly_hours": [], "exceptions": [], **values}
    try:
        async with conn.begin_nested():
            return (await conn.execute(_INSERT, params)).one()
    except IntegrityError as exc:
        raise _conflict(exc, store_id, values.get("code", "")) from None


def _conflict(exc: IntegrityError, store_id: str, code: str) -> AlreadyExists:
    if "stores_code_unique" in str(exc.orig):
        return AlreadyExists(f"store code {code} is taken", reason="STORE_CODE_TAKEN", metadata={"code": code})
    return AlreadyExists(
        f"stores/{store_id} already exists", reason="STORE_EXISTS", metadata={"resource": f"stores/{store_id}"}
    )


_TYPES = {"weekly_hours": JSONB, "exceptions": JSONB}


async def update(conn: AsyncConnection, store_id: str, values: dict) -> Any:
    sets = ", ".join(f"{k} = :{k}" for k in values)
    stmt = sa.text(
        f"UPDATE stores SET {sets + ', ' if sets else ''}version = version + 1, update_time = now() "
        f"WHERE id = :id RETURNING {_COLUMNS}"
    )
    binds = [sa.bindparam(k, type_=t) for k, t in _TYPES.items() if k in values]
    if binds:
        stmt = stmt.bindparams(*binds)
    try:
        async with conn.begin_nested():
            return (await conn.execute(stmt, {"id": store_id, **values})).one()
    except IntegrityError as exc:
        raise _conflict(exc, store_id, values.get("code", "")) from None


async def page(conn: AsyncConnection, region: str | None, after: list | None, limit: int) -> list:
    where, params = [], {"limit": limit}
    if region is not None:
        where.append("region = :region")
        params["region"] = region
    if after is not None:
        where.append("(create_time, id) > (CAST(:t AS timestamptz), :i)")
        params["t"], params["i"] = after
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    stmt = sa.text(f"SELECT {_COLUMNS} FROM stores{clause} ORDER BY create_time, id LIMIT :limit")
    return (await conn.execute(stmt, params)).all()

