"""The `filter` of ListCustomers (a small AIP-160 subset): terms joined by AND.

tier = TIER_VIP AND home_store = "stores/paris" AND tags:"press"
"""

from __future__ import annotations

from dataclasses import dataclass, field

from servicekit import filter_terms
from servicekit.errors import invalid
from servicekit.vocabulary import Tier


@dataclass(frozen=True)
class CustomerFilter:
    tier: int | None = None
    home_store: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


def parse(text: str) -> CustomerFilter:
    tier: int | None = None
    home_store: str | None = None
    tags: list[str] = []
    for term in filter_terms.read(text, 'tier = TIER_VIP AND tags:"press"'):
        if term.name == "tier" and term.op == "=":
            tier = _tier(term.value)
        elif term.name == "home_store" and term.op == "=":
            home_store = term.value
        elif term.name == "tags":
            tags.append(term.value.lower())
        else:
            raise filter_terms.unsupported(term, "tier =, home_store =, tags:")
    return CustomerFilter(tier=tier, home_store=home_store, tags=tuple(tags))


def _tier(value: str) -> int:
    """A tier by its API name (`TIER_VIP`), with or without the prefix, in any case."""
    name = value.upper()
    tier = Tier.__members__.get(name[len("TIER_") :] if name.startswith("TIER_") else name)
    if tier is None:
        names = ", ".join(f"TIER_{t.name}" for t in Tier if t is not Tier.UNSPECIFIED)
        raise invalid("filter", f"unknown tier {value!r}; one of {names}")
    return int(tier)
