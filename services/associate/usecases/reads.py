"""What reads share: a page of a list (AIP-158: how many items, where it starts, the token
of the next) and a resource that must exist."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from servicekit import paging
from servicekit.errors import NotFound

T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    """`position`: the keyset position the page starts after (None: the first page);
    `query`: what the page token is bound to (a token of another query is refused)."""

    size: int
    position: Sequence[object] | None
    query: str = ""

    @property
    def limit(self) -> int:
        """Rows to fetch: one more than the page tells whether another page follows."""
        return self.size + 1

    def items(self, rows: Sequence[T]) -> Sequence[T]:
        return rows[: self.size]

    def next_token(self, rows: Sequence[T], position: Callable[[T], list[object]]) -> str:
        """'' on the last page; else the token of the page after `rows` (`position` of its last row)."""
        return paging.next_token(list(rows), self.size, self.query, position)


class _Created(Protocol):
    @property
    def create_time(self) -> datetime: ...
    @property
    def id(self) -> str: ...


def by_creation(last: _Created) -> list[object]:
    """The keyset position of lists in creation order."""
    return [last.create_time.isoformat(), last.id]


def found(row: T | None, name: str) -> T:
    """The row of the resource `name`; NOT_FOUND when there is none."""
    if row is None:
        raise NotFound(name)
    return row
