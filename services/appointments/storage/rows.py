"""What the storage modules share: result rows as dataclasses, and writes whose
constraint violations become the errors the API answers (inside a savepoint, so the
unit of work stays usable, e.g. to suggest other slots)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import psycopg
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause

from servicekit.errors import AtelierError

T = TypeVar("T")


def as_row(kind: Callable[..., T], row: sa.Row[Any]) -> T:
    """A result row as the dataclass `kind` (its fields are the selected columns)."""
    return kind(**row._mapping)


def violated(exc: IntegrityError) -> str:
    """The name of the constraint PostgreSQL reports as violated ('' when none)."""
    driver = exc.orig
    if isinstance(driver, psycopg.Error):
        return driver.diag.constraint_name or ""
    return ""


async def guarded(
    conn: AsyncConnection,
    statement: TextClause,
    params: Mapping[str, object],
    errors: Mapping[str, Callable[[], AtelierError]],
) -> sa.Row[Any] | None:
    """The one row `statement` returns (None when it returns none); a violation of a
    constraint named in `errors` raises the error made for it, any other is re-raised."""
    try:
        async with conn.begin_nested():
            return (await conn.execute(statement, dict(params))).first()
    except IntegrityError as exc:
        make = errors.get(violated(exc))
        if make is None:
            raise
        raise make() from None
