"""What reads share (their page is servicekit.paging.Page): the keyset position of lists
in creation order, and a resource that must exist."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, TypeVar

from servicekit.errors import NotFound

T = TypeVar("T")


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
