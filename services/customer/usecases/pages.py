"""A page a list asks for (AIP-158 keyset paging, tokens from servicekit.paging)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from servicekit import paging

Row = TypeVar("Row")


@dataclass(frozen=True)
class Page:
    """How many items, where the page starts (the keyset position after the previous page's
    last item; None for the first page) and the query its tokens are bound to."""

    size: int
    position: list[Any] | None
    query: str

    @property
    def limit(self) -> int:
        """Rows to fetch: one more than the page shows tells whether another page follows."""
        return self.size + 1

    def next_token(self, rows: Sequence[Row], position: Callable[[Row], Sequence[object]]) -> str:
        """The token of the page after `rows` (fetched with `limit`), "" on the last page."""
        return paging.next_token(rows, self.size, self.query, position)
