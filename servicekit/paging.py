"""Opaque page tokens for keyset pagination (AIP-158), and the page a list asks for.

A token holds the position after the last item returned and a fingerprint of the query
it belongs to, so it cannot be replayed against a different filter. Keyset positions
(not offsets) keep paging stable while rows are being inserted.

A list reads its request into a `Page` (size, position, query), fetches `page.limit`
rows after `page.position`, answers `page.items(rows)` and `page.next_token(rows, key)`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from servicekit.errors import invalid

Row = TypeVar("Row")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def page_size(requested: int, *, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> int:
    if requested < 0:
        raise invalid("page_size", "must not be negative")
    if requested == 0:
        return default
    return min(requested, maximum)


def _fingerprint(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:16]


def encode(position: Sequence[object], query: str = "") -> str:
    raw = json.dumps({"p": list(position), "q": _fingerprint(query)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def next_token(rows: Sequence[Row], size: int, query: str, position: Callable[[Row], Sequence[object]]) -> str:
    """The token of the page after `rows` (fetched with LIMIT size + 1), '' on the last
    page; `position(row)` gives the keyset position of the page's last row."""
    return encode(position(rows[size - 1]), query) if len(rows) > size else ""


@dataclass(frozen=True)
class Page:
    """A page a list asks for: how many items (`size`), the keyset position it starts
    after (None: the first page) and the query its tokens are bound to (a token of
    another query is refused)."""

    size: int
    position: list[Any] | None
    query: str = ""

    @property
    def limit(self) -> int:
        """Rows to fetch: one more than the page shows tells whether another page follows."""
        return self.size + 1

    def items(self, rows: Sequence[Row]) -> Sequence[Row]:
        """The rows the page shows (of rows fetched with `limit`)."""
        return rows[: self.size]

    def next_token(self, rows: Sequence[Row], position: Callable[[Row], Sequence[object]]) -> str:
        """The token of the page after `rows` (fetched with `limit`), '' on the last page;
        `position(row)` gives the keyset position of the page's last row."""
        return next_token(rows, self.size, self.query, position)


def decode(token: str, query: str = "", *, shape: tuple[type, ...] | None = None) -> list[Any] | None:
    """The position a token points at; None for the first page.

    With `shape` (one type per position element: int, str or datetime), a token whose
    position does not have that shape (e.g. a token of another collection, or a forged
    one) is INVALID_ARGUMENT rather than a database error; datetime elements are parsed.
    """
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position: object = data["p"]
        fingerprint: object = data["q"]
    except (ValueError, KeyError, TypeError):
        raise invalid("page_token", "not a page token issued by this API") from None
    if fingerprint != _fingerprint(query):
        raise invalid("page_token", "belongs to a request with different parameters")
    if shape is not None:
        return _shaped(position, shape)
    if not isinstance(position, list):
        raise invalid("page_token", "not a page token issued by this API")
    return position


def _shaped(position: object, shape: tuple[type, ...]) -> list[Any]:
    bad = invalid("page_token", "not a page token issued by this API")
    if not isinstance(position, list) or len(position) != len(shape):
        raise bad
    out: list[Any] = []
    for value, kind in zip(position, shape, strict=True):
        if (kind is int and isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63) or (
            kind is str and isinstance(value, str) and "\x00" not in value
        ):
            out.append(value)
        elif kind is datetime and isinstance(value, str):
            try:
                out.append(datetime.fromisoformat(value))
            except ValueError:
                raise bad from None
        else:
            raise bad
    return out
