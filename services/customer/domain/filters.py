"""The `filter` of ListCustomers (a small AIP-160 subset): terms joined by AND.

tier = TIER_VIP AND home_store = "stores/paris" AND tags:"press"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from servicekit.errors import invalid
from servicekit.vocabulary import Tier

_TERM = re.compile(r'^\s*(\w+)\s*(=|:)\s*("(?:[^"\\]|\\.)*"|[^\s"]+)\s*$')


@dataclass(frozen=True)
class CustomerFilter:
    tier: int | None = None
    home_store: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


def parse(text: str) -> CustomerFilter:
    if not text.strip():
        return CustomerFilter()
    tier: int | None = None
    home_store: str | None = None
    tags: list[str] = []
    for term in re.split(r"\s+AND\s+", text.strip()):
        match = _TERM.match(term)
        if not match:
            raise invalid("filter", f'cannot read {term.strip()!r}; expected e.g. tier = TIER_VIP AND tags:"press"')
        name, op, value = match.groups()
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"')
        if name == "tier" and op == "=":
            tier = _tier(value)
        elif name == "home_store" and op == "=":
            home_store = value
        elif name == "tags":
            tags.append(value.lower())
        else:
            raise invalid("filter", f"unsupported term {term.strip()!r}; use tier =, home_store =, tags:")
    return CustomerFilter(tier=tier, home_store=home_store, tags=tuple(tags))


def _tier(value: str) -> int:
    """A tier by its API name (`TIER_VIP`), with or without the prefix, in any case."""
    name = value.upper()
    tier = Tier.__members__.get(name[len("TIER_") :] if name.startswith("TIER_") else name)
    if tier is None:
        names = ", ".join(f"TIER_{t.name}" for t in Tier if t is not Tier.UNSPECIFIED)
        raise invalid("filter", f"unknown tier {value!r}; one of {names}")
    return int(tier)
