"""Associates: SQLAlchemy Core statements over the caller's connection."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from servicekit.errors import AlreadyExists, FailedPrecondition

from ..domain.assignment import Candidate

_COLUMNS = (
    "id, store_id, display_name, role, status, languages, specialities, capacity, referral_code, "
    "book_size, version, create_time, update_time"
)
_GET = sa.text(f"SELECT {_COLUMNS} FROM associates WHERE id = :id")
_GET_LOCKED = sa.text(f"SELECT {_COLUMNS} FROM associates WHERE id = :id FOR UPDATE")
_GET_MANY = sa.text(f"SELECT {_COLUMNS} FROM associates WHERE id = ANY(:ids)")
_BY_CODE = sa.text("SELECT id FROM associates WHERE referral_code = :code AND status = 1")
_INSERT = sa.text(
    f"""
    INSERT INTO associates (id, store_id, display_name, role, status, languages, specialities,
                            capacity, referral_code)
    VALUES (:id, :store_id, :display_name, :role, :status, :languages, :specialities,
            :capacity, :referral_code)
    RETURNING {_COLUMNS}
    """
).bindparams(sa.bindparam("languages", type_=ARRAY(sa.Text)), sa.bindparam("specialities", type_=ARRAY(sa.Text)))
# Active staff who hold books (associates and managers), with their load.
_CANDIDATES = sa.text(
    "SELECT id, book_size, capacity FROM associates "
    "WHERE store_id = :store AND status = 1 AND role IN (1, 2) AND id <> ALL(:exclude)"
)


async def get(conn: AsyncConnection, associate_id: str, *, lock: bool = False):
    return (await conn.execute(_GET_LOCKED if lock else _GET, {"id": associate_id})).first()


async def get_many(conn: AsyncConnection, ids: list[str]) -> dict[str, Any]:
    if not ids:
        return {}
    return {r.id: r for r in await conn.execute(_GET_MANY, {"ids": list(set(ids))})}


async def active_by_referral_code(conn: AsyncConnection, code: str) -> str | None:
    if not code:
        return None
    return (await conn.execute(_BY_CODE, {"code": code})).scalar_one_or_none()


async def candidates(conn: AsyncConnection, store_id: str, exclude: list[str] = ()) -> list[Candidate]:
    rows = await conn.execute(_CANDIDATES, {"store": store_id, "exclude": list(exclude)})
    return [Candidate(r.id, r.book_size, r.capacity) for r in rows]


async def insert(conn: AsyncConnection, associate_id: str, values: dict, new_code) -> Any:
    """Insert with a fresh referral code; a code collision (unique constraint) draws again."""
    params = {"id": associate_id, "status": 1, "languages": [], "specialities": [], "capacity": 0, **values}
    for _ in range(5):
        params["referral_code"] = new_code()
        try:
            async with conn.begin_nested():
                return (await conn.execute(_INSERT, params)).one()
        except IntegrityError as exc:
            text = str(exc.orig)
            if "associates_referral_code_unique" in text:
                continue
            if "associates_pkey" in text:
                raise AlreadyExists(
                    f"associates/{associate_id} already exists",
                    reason="ASSOCIATE_EXISTS",
                    metadata={"resource": f"associates/{associate_id}"},
                ) from None
            if "associates_store_id_fkey" in text:
                raise FailedPrecondition(
                    f"stores/{values['store_id']} does not exist",
                    reason="STORE_NOT_FOUND",
                    metadata={"store": f"stores/{values['store_id']}"},
                ) from None
            raise
    raise RuntimeError("could not draw a free referral code")


_TYPES = {"languages": ARRAY(sa.Text), "specialities": ARRAY(sa.Text)}


async def update(conn: AsyncConnection, associate_id: str, values: dict) -> Any:
    sets = ", ".join(f"{k} = :{k}" for k in values)
    stmt = sa.text(
        f"UPDATE associates SET {sets + ', ' if sets else ''}version = version + 1, update_time = now() "
        f"WHERE id = :id RETURNING {_COLUMNS}"
    )
    binds = [sa.bindparam(k, type_=t) for k, t in _TYPES.items() if k in values]
    if binds:
        stmt = stmt.bindparams(*binds)
    try:
        async with conn.begin_nested():
            return (await conn.execute(stmt, {"id": associate_id, **values})).one()
    except IntegrityError as exc:
        if "associates_store_id_fkey" in str(exc.orig):
            raise FailedPrecondition(
                f"stores/{values.get('store_id')} does not exist", reason="STORE_NOT_FOUND",
                metadata={"store": f"stores/{values.get('store_id')}"},
            ) from None
        raise


async def page(conn: AsyncConnection, flt: dict, after: list | None, limit: int) -> list:
    where, params = [], {"limit": limit}
    for key, value in flt.items():
        where.append(f"{key} = :{key}")
        params[key] = value
    if after is not None:
        where.append("(create_time, id) > (CAST(:t AS timestamptz), :i)")
        params["t"], params["i"] = after
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    stmt = sa.text(f"SELECT {_COLUMNS} FROM associates{clause} ORDER BY create_time, id LIMIT :limit")
    return (await conn.execute(stmt, params)).all()
