"""The directory of stores and staff learnt from the associate service's events (tables
directory_stores and directory_associates); what an event changes is domain/directory.py's
decision."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.directory import StaffRecord

_STAFF_COLUMNS = "associate_id, store, role, status, referral_code, change_time"
_STAFF = sa.text(f"SELECT {_STAFF_COLUMNS} FROM directory_associates WHERE associate_id = :id")
_STAFF_LOCKED = sa.text(f"SELECT {_STAFF_COLUMNS} FROM directory_associates WHERE associate_id = :id FOR UPDATE")
_PUT_STAFF = sa.text(
    f"""
    INSERT INTO directory_associates ({_STAFF_COLUMNS})
    VALUES (:associate_id, :store, :role, :status, :referral_code, :change_time)
    ON CONFLICT (associate_id) DO UPDATE SET
        store = EXCLUDED.store, role = EXCLUDED.role, status = EXCLUDED.status,
        referral_code = EXCLUDED.referral_code, change_time = EXCLUDED.change_time
    """
)
_STORE_TIME = sa.text("SELECT change_time FROM directory_stores WHERE store = :store FOR UPDATE")
_PUT_STORE = sa.text(
    """
    INSERT INTO directory_stores (store, change_time) VALUES (:store, :change_time)
    ON CONFLICT (store) DO UPDATE SET change_time = EXCLUDED.change_time
    """
)
_KNOWN_STORES = sa.text("SELECT store FROM directory_stores WHERE store = ANY(:stores)")
_KNOWN_CODES = sa.text(
    "SELECT DISTINCT referral_code FROM directory_associates WHERE referral_code <> '' AND referral_code = ANY(:codes)"
)


def _staff(row: sa.Row[Any]) -> StaffRecord:
    return StaffRecord(**row._asdict())


async def staff(conn: AsyncConnection, associate_id: str, *, lock: bool = False) -> StaffRecord | None:
    """Her record; with `lock`, locked until the transaction ends (events of one
    associate apply one after the other)."""
    row = (await conn.execute(_STAFF_LOCKED if lock else _STAFF, {"id": associate_id})).first()
    return _staff(row) if row else None


async def put_staff(conn: AsyncConnection, record: StaffRecord) -> None:
    await conn.execute(
        _PUT_STAFF,
        {
            "associate_id": record.associate_id,
            "store": record.store,
            "role": record.role,
            "status": record.status,
            "referral_code": record.referral_code,
            "change_time": record.change_time,
        },
    )


async def store_time(conn: AsyncConnection, store: str) -> datetime | None:
    """When the last applied event of the store happened (locked), None if unknown."""
    return (await conn.execute(_STORE_TIME, {"store": store})).scalar_one_or_none()


async def put_store(conn: AsyncConnection, store: str, change_time: datetime) -> None:
    await conn.execute(_PUT_STORE, {"store": store, "change_time": change_time})


async def known_stores(conn: AsyncConnection, stores: Collection[str]) -> frozenset[str]:
    """Those of `stores` the directory holds."""
    if not stores:
        return frozenset()
    return frozenset((await conn.execute(_KNOWN_STORES, {"stores": list(stores)})).scalars())


async def known_referral_codes(conn: AsyncConnection, codes: Collection[str]) -> frozenset[str]:
    """Those of the (normalised) `codes` some member of staff has."""
    if not codes:
        return frozenset()
    return frozenset((await conn.execute(_KNOWN_CODES, {"codes": list(codes)})).scalars())
