"""Reading a list's `filter` (the small AIP-160 subset the lists share): terms joined by
AND, each `name = value` or `name:value`, the value bare or in double quotes (\\" inside).

    tier = TIER_VIP AND home_store = "stores/paris" AND tags:"press"

Pure (no grpc, no protobuf): domain modules read their filters with it. What a term's
name means, and which operator it takes, is the list's own rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from servicekit.errors import InvalidArgument, invalid

_TERM = re.compile(r'^\s*(\w+)\s*(=|:)\s*("(?:[^"\\]|\\.)*"|[^\s"]+)\s*$')
_AND = re.compile(r"\s+AND\s+")


@dataclass(frozen=True)
class Term:
    """One term: its name, its operator ("=" or ":"), its value (unquoted) and the term as
    written (for messages)."""

    name: str
    op: str
    value: str
    text: str


def read(text: str, example: str) -> Iterator[Term]:
    """The terms of `text` in order (none for a blank filter), read one at a time, so a
    term the list refuses is reported before a later one that cannot be read; a term that
    cannot be read is INVALID_ARGUMENT on `filter`, showing `example`."""
    if not text.strip():
        return
    for written in _AND.split(text.strip()):
        match = _TERM.match(written)
        if not match:
            raise invalid("filter", f"cannot read {written.strip()!r}; expected e.g. {example}")
        name, op, value = match.groups()
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"')
        yield Term(name, op, value, written.strip())


def unsupported(term: Term, supported: str) -> InvalidArgument:
    """INVALID_ARGUMENT on `filter` for a term the list does not take (`supported`: what it takes)."""
    return invalid("filter", f"unsupported term {term.text!r}; use {supported}")
