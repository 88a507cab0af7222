"""The directory of stores and staff learnt from the associate service's events (tables
directory_stores and directory_associates) and reconciled with its own answers (the
directory sync job); what an event or an answer changes is decided above this module.

The reconciliation writes a page at a time, each row only if it is still as it was read
(a compare-and-set over the whole row): a row an event changed, or created, between the
read and the write is left as the event made it."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
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
_STAFF_OF = sa.text(f"SELECT {_STAFF_COLUMNS} FROM directory_associates WHERE associate_id = ANY(:ids)")
# `seen_*`: the row as it was read (all NULL when there was none), so a row changed or
# inserted since is not overwritten (a row compared with NULLs is never equal).
_PUT_STAFF_UNLESS_CHANGED = sa.text(
    f"""
    WITH incoming AS (
        SELECT * FROM unnest(
            CAST(:associate_ids AS text[]), CAST(:stores AS text[]), CAST(:roles AS text[]),
            CAST(:statuses AS text[]), CAST(:referral_codes AS text[]), CAST(:change_times AS timestamptz[]),
            CAST(:seen_stores AS text[]), CAST(:seen_roles AS text[]), CAST(:seen_statuses AS text[]),
            CAST(:seen_referral_codes AS text[]), CAST(:seen_change_times AS timestamptz[])
        ) AS i({_STAFF_COLUMNS}, seen_store, seen_role, seen_status, seen_referral_code, seen_change_time)
    )
    INSERT INTO directory_associates ({_STAFF_COLUMNS})
    SELECT {_STAFF_COLUMNS} FROM incoming
    ON CONFLICT (associate_id) DO UPDATE SET
        store = EXCLUDED.store, role = EXCLUDED.role, status = EXCLUDED.status,
        referral_code = EXCLUDED.referral_code, change_time = EXCLUDED.change_time
    WHERE (directory_associates.store, directory_associates.role, directory_associates.status,
           directory_associates.referral_code, directory_associates.change_time)
        = (SELECT i.seen_store, i.seen_role, i.seen_status, i.seen_referral_code, i.seen_change_time
           FROM incoming i WHERE i.associate_id = EXCLUDED.associate_id)
    """
)
_STORE_TIMES = sa.text("SELECT store, change_time FROM directory_stores WHERE store = ANY(:stores)")
_PUT_STORES_UNLESS_CHANGED = sa.text(
    """
    WITH incoming AS (
        SELECT * FROM unnest(
            CAST(:stores AS text[]), CAST(:change_times AS timestamptz[]), CAST(:seen_change_times AS timestamptz[])
        ) AS i(store, change_time, seen_change_time)
    )
    INSERT INTO directory_stores (store, change_time)
    SELECT store, change_time FROM incoming
    ON CONFLICT (store) DO UPDATE SET change_time = EXCLUDED.change_time
    WHERE directory_stores.change_time
        = (SELECT i.seen_change_time FROM incoming i WHERE i.store = EXCLUDED.store)
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


async def staff_of(conn: AsyncConnection, associate_ids: Collection[str]) -> dict[str, StaffRecord]:
    """The records of those of `associate_ids` the directory holds, by associate id."""
    if not associate_ids:
        return {}
    rows = await conn.execute(_STAFF_OF, {"ids": list(associate_ids)})
    return {record.associate_id: record for record in map(_staff, rows)}


async def put_staff_unless_changed(
    conn: AsyncConnection, writes: Sequence[tuple[StaffRecord | None, StaffRecord]]
) -> int:
    """Writes each (as read, to write) pair's record in one statement, only where her row
    is still as read (None: there was none); how many rows were written."""
    if not writes:
        return 0
    seen = [before for before, _ in writes]
    records = [after for _, after in writes]
    result = await conn.execute(
        _PUT_STAFF_UNLESS_CHANGED,
        {
            "associate_ids": [r.associate_id for r in records],
            "stores": [r.store for r in records],
            "roles": [r.role for r in records],
            "statuses": [r.status for r in records],
            "referral_codes": [r.referral_code for r in records],
            "change_times": [r.change_time for r in records],
            "seen_stores": [b.store if b else None for b in seen],
            "seen_roles": [b.role if b else None for b in seen],
            "seen_statuses": [b.status if b else None for b in seen],
            "seen_referral_codes": [b.referral_code if b else None for b in seen],
            "seen_change_times": [b.change_time if b else None for b in seen],
        },
    )
    return result.rowcount


async def store_times(conn: AsyncConnection, stores: Collection[str]) -> dict[str, datetime]:
    """When the last applied change of each of `stores` the directory holds happened."""
    if not stores:
        return {}
    rows = await conn.execute(_STORE_TIMES, {"stores": list(stores)})
    return {row.store: row.change_time for row in rows}


async def put_stores_unless_changed(
    conn: AsyncConnection, writes: Mapping[str, tuple[datetime | None, datetime]]
) -> int:
    """Records each store (key) with its change time (as read, to write) in one statement,
    only where its row is still as read (None: there was none); how many rows were written."""
    if not writes:
        return 0
    result = await conn.execute(
        _PUT_STORES_UNLESS_CHANGED,
        {
            "stores": list(writes),
            "change_times": [after for _, after in writes.values()],
            "seen_change_times": [before for before, _ in writes.values()],
        },
    )
    return result.rowcount


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
