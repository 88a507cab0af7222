"""Associates: SQLAlchemy Core statements over the caller's connection."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from servicekit.errors import AlreadyExists, AtelierError, FailedPrecondition

from ..domain.assignment import Candidate
from ..domain.staff import BOOK_HOLDERS, Status
from .statements import Filter, Position, as_row, as_rows, by_id, constraint, first, guarded, versioned_update


@dataclass(frozen=True)
class AssociateRow:
    id: str
    store_id: str
    display_name: str
    role: int
    status: int
    languages: list[str]
    specialities: list[str]
    capacity: int
    referral_code: str
    book_size: int
    version: int
    create_time: datetime
    update_time: datetime


_COLUMNS = (
    "id, store_id, display_name, role, status, languages, specialities, capacity, referral_code, "
    "book_size, version, create_time, update_time"
)
_TYPES = {"languages": ARRAY(sa.Text), "specialities": ARRAY(sa.Text)}
_GET, _GET_LOCKED = by_id(f"SELECT {_COLUMNS} FROM associates")
_GET_MANY = sa.text(f"SELECT {_COLUMNS} FROM associates WHERE id = ANY(:ids)")
_BY_CODE = sa.text("SELECT id FROM associates WHERE referral_code = :code AND status = :active")
_STORE_OF = sa.text("SELECT store_id FROM associates WHERE id = :id")
_STORES_OF = sa.text("SELECT id, store_id FROM associates WHERE id = ANY(:ids)")
_INSERT = sa.text(
    f"""
    INSERT INTO associates (id, store_id, display_name, role, status, languages, specialities,
                            capacity, referral_code)
    VALUES (:id, :store_id, :display_name, :role, :status, :languages, :specialities,
            :capacity, :referral_code)
    RETURNING {_COLUMNS}
    """
).bindparams(*(sa.bindparam(k, type_=t) for k, t in _TYPES.items()))
# Active staff who hold books (domain.staff.holds_books), with their load.
_CANDIDATES = sa.text(
    "SELECT id, book_size, capacity FROM associates "
    "WHERE store_id = :store AND status = :active AND role = ANY(:roles) AND id <> ALL(:exclude)"
)
REFERRAL_CODE_DRAWS = 5


async def get(conn: AsyncConnection, associate_id: str, *, lock: bool = False) -> AssociateRow | None:
    return await first(conn, AssociateRow, _GET_LOCKED if lock else _GET, id=associate_id)


@dataclass(frozen=True)
class Standing:
    """What the caller gate reads of a member of staff (domain.staff.Staff)."""

    id: str
    store_id: str
    role: int
    status: int


_STANDING = sa.text("SELECT id, store_id, role, status FROM associates WHERE id = :id")


async def standing(conn: AsyncConnection, associate_id: str) -> Standing | None:
    return await first(conn, Standing, _STANDING, id=associate_id)


async def get_many(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, AssociateRow]:
    if not ids:
        return {}
    rows = as_rows(AssociateRow, (await conn.execute(_GET_MANY, {"ids": list(set(ids))})).all())
    return {r.id: r for r in rows}


async def store_of(conn: AsyncConnection, associate_id: str) -> str | None:
    """Her store (bare); None when she does not exist."""
    found: str | None = (await conn.execute(_STORE_OF, {"id": associate_id})).scalar_one_or_none()
    return found


async def stores_of(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, str]:
    """The store (bare) of each of these associates."""
    if not ids:
        return {}
    return {r.id: r.store_id for r in await conn.execute(_STORES_OF, {"ids": list(set(ids))})}


async def active_by_referral_code(conn: AsyncConnection, code: str) -> str | None:
    if not code:
        return None
    found: str | None = (await conn.execute(_BY_CODE, {"code": code, "active": Status.ACTIVE})).scalar_one_or_none()
    return found


async def candidates(conn: AsyncConnection, store_id: str, exclude: Sequence[str] = ()) -> list[Candidate]:
    params = {"store": store_id, "exclude": list(exclude), "active": Status.ACTIVE, "roles": list(BOOK_HOLDERS)}
    rows = await conn.execute(_CANDIDATES, params)
    return [Candidate(r.id, r.book_size, r.capacity) for r in rows]


def _conflict(associate_id: str, store_id: object) -> Callable[[IntegrityError], AtelierError | None]:
    def translate(exc: IntegrityError) -> AtelierError | None:
        text = constraint(exc)
        if "associates_pkey" in text:
            resource = f"associates/{associate_id}"
            return AlreadyExists(
                f"{resource} already exists", reason="ASSOCIATE_EXISTS", metadata={"resource": resource}
            )
        if "associates_store_id_fkey" in text:
            store = f"stores/{store_id}"
            return FailedPrecondition(f"{store} does not exist", reason="STORE_NOT_FOUND", metadata={"store": store})
        return None

    return translate


async def insert(
    conn: AsyncConnection, associate_id: str, values: Mapping[str, object], new_code: Callable[[], str]
) -> AssociateRow:
    """Insert with a fresh referral code; a code collision (unique constraint) draws again."""
    params: dict[str, object] = {
        "id": associate_id,
        "status": 1,
        "languages": [],
        "specialities": [],
        "capacity": 0,
        **values,
    }
    conflict = _conflict(associate_id, values.get("store_id"))
    for _ in range(REFERRAL_CODE_DRAWS):
        params["referral_code"] = new_code()
        try:
            return as_row(AssociateRow, await guarded(conn, _INSERT, params, conflict))
        except IntegrityError as exc:
            if "associates_referral_code_unique" not in constraint(exc):
                raise
    raise RuntimeError("could not draw a free referral code")


async def update(conn: AsyncConnection, associate_id: str, values: Mapping[str, object]) -> AssociateRow:
    statement = versioned_update("associates", _COLUMNS, values, _TYPES)
    translate = _conflict(associate_id, values.get("store_id"))
    return as_row(AssociateRow, await guarded(conn, statement, {"id": associate_id, **values}, translate))


async def page(conn: AsyncConnection, equal: Mapping[str, object], after: Position, limit: int) -> list[AssociateRow]:
    """`equal`: column = value terms (store_id, status, role)."""
    where = Filter(limit)
    for column, value in equal.items():
        where.add(f"{column} = :{column}", **{column: value})
    where.after("(create_time, id)", after)
    statement = sa.text(f"SELECT {_COLUMNS} FROM associates{where.where} ORDER BY create_time, id LIMIT :limit")
    return as_rows(AssociateRow, (await conn.execute(statement, where.params)).all())
