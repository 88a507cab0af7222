"""What the service's statements share: rows as dataclasses, keyset-page filters, the
versioned update of some columns, and writes whose constraint violations become the
errors the API answers (a savepoint keeps the transaction usable)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import TypeEngine

from servicekit.errors import AtelierError

T = TypeVar("T")
# A keyset position a page starts after (a page token's values); None for the first page.
Position = Sequence[object] | None


def as_row(kind: Callable[..., T], row: sa.Row[Any]) -> T:
    """A result row as the dataclass `kind` (its fields are the selected columns)."""
    return kind(**row._mapping)


def as_rows(kind: Callable[..., T], rows: Iterable[sa.Row[Any]]) -> list[T]:
    return [kind(**r._mapping) for r in rows]


def by_id(select: str, column: str = "id", lock: str = "FOR UPDATE") -> tuple[TextClause, TextClause]:
    """The statements reading one row by :id: as it is, and locked for the transaction."""
    return sa.text(f"{select} WHERE {column} = :id"), sa.text(f"{select} WHERE {column} = :id {lock}")


async def first(conn: AsyncConnection, kind: Callable[..., T], statement: TextClause, /, **params: object) -> T | None:
    """The first row `statement` returns as the dataclass `kind`; None when there is none."""
    row = (await conn.execute(statement, params)).first()
    return as_row(kind, row) if row else None


class Filter:
    """The WHERE of a list query, built term by term, with its parameters."""

    def __init__(self, limit: int):
        self.terms: list[str] = []
        self.params: dict[str, object] = {"limit": limit}

    def add(self, term: str, **params: object) -> None:
        self.terms.append(term)
        self.params.update(params)

    def after(self, keyset: str, position: Position) -> None:
        """Rows after a keyset position (`(create_time, id)`, the page token's values);
        the first value is a time."""
        if position is not None:
            self.add(f"{keyset} > (CAST(:after_t AS timestamptz), :after_i)", after_t=position[0], after_i=position[1])

    @property
    def where(self) -> str:
        return (" WHERE " + " AND ".join(self.terms)) if self.terms else ""


Translate = Callable[[IntegrityError], AtelierError | None]


async def guarded(
    conn: AsyncConnection, statement: TextClause, params: Mapping[str, object], translate: Translate
) -> Any:
    """The one row `statement` returns; a constraint it violates is the error `translate`
    names (re-raised as it is when it names none)."""
    try:
        async with conn.begin_nested():
            return (await conn.execute(statement, dict(params))).one()
    except IntegrityError as exc:
        error = translate(exc)
        if error is None:
            raise
        raise error from None


def constraint(exc: IntegrityError) -> str:
    """The text PostgreSQL gave for a violated constraint (it names the constraint)."""
    return str(exc.orig)


def versioned_update(
    table: str, columns: str, values: Mapping[str, object], types: Mapping[str, TypeEngine[Any]]
) -> TextClause:
    """`UPDATE <table> SET <values>, version = version + 1 … WHERE id = :id RETURNING
    <columns>`: every change of a versioned row moves its etag."""
    sets = "".join(f"{k} = :{k}, " for k in values)
    statement = sa.text(
        f"UPDATE {table} SET {sets}version = version + 1, update_time = now() WHERE id = :id RETURNING {columns}"
    )
    binds = [sa.bindparam(k, type_=t) for k, t in types.items() if k in values]
    return statement.bindparams(*binds) if binds else statement
