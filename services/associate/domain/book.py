"""The client book: what it shows of a customer (a read model kept from customer events),
its `filter` and `order_by` (small AIP-160 / AIP-132 subsets).

    filter:   tier = TIER_VIP AND tags:"watches" AND role = ASSIGNMENT_ROLE_PRIMARY
    order_by: last_contact desc | lifetime_value desc | next_task asc
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from servicekit import filter_terms
from servicekit.errors import invalid
from servicekit.vocabulary import Tier

from .assignment import Role


@dataclass(frozen=True)
class CustomerProfile:
    """What the book shows of a customer, as her last customer event described her."""

    given_name: str
    family_name: str
    preferred_name: str
    home_store: str
    tier: int
    tags: tuple[str, ...]


DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class BookFilter:
    tier: int | None = None
    role: int | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Order:
    """The sort key (a column of the book query) and whether it descends. Customers
    without a value (never contacted, no task) come last either way."""

    key: str
    descending: bool


ORDERS = {
    "last_contact": Order("last_contact_time", True),
    "lifetime_value": Order("lifetime_value", True),
    "next_task": Order("next_task_due_time", False),
}


def parse_filter(text: str) -> BookFilter:
    tier = role = None
    tags: list[str] = []
    for term in filter_terms.read(text, 'tier = TIER_VIP AND tags:"watches"'):
        if term.name == "tier" and term.op == "=":
            tier = _enum(Tier, "TIER_", term.value)
        elif term.name == "role" and term.op == "=":
            role = _enum(Role, "ASSIGNMENT_ROLE_", term.value)
        elif term.name == "tags":
            tags.append(term.value.lower())
        else:
            raise filter_terms.unsupported(term, "tier =, role =, tags:")
    return BookFilter(tier=tier, role=role, tags=tuple(tags))


def _enum(enum: type[IntEnum], prefix: str, value: str) -> int:
    """The member a filter value names, with or without the contract's prefix
    (`VIP` or `TIER_VIP`); UNSPECIFIED (0) names nothing to filter on."""
    name = value.upper()
    name = name.removeprefix(prefix)
    members = {n: m for n, m in enum.__members__.items() if m != 0}
    member = members.get(name)
    if member is None:
        allowed = ", ".join(prefix + n for n in members)
        raise invalid("filter", f"unknown value {value!r}; one of {allowed}")
    return int(member)


def parse_order(text: str) -> Order:
    if not text.strip():
        return ORDERS["last_contact"]
    parts = text.strip().split()
    key = parts[0]
    if key not in ORDERS or len(parts) > 2:
        raise invalid("order_by", f"one of {', '.join(ORDERS)}, optionally followed by asc or desc")
    order = ORDERS[key]
    if len(parts) == 2:
        if parts[1].lower() not in ("asc", "desc"):
            raise invalid("order_by", "direction must be asc or desc")
        order = Order(order.key, parts[1].lower() == "desc")
    return order
