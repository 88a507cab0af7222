"""A Segment (the audience of a campaign) from the request's values: validated, with the
birthday window turned into calendar days. Pure, no I/O."""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from servicekit.errors import Violations
from servicekit.vocabulary import Tier

from .consent import Requirement, read_requirement

_TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_STORE = re.compile(r"^stores/[a-z0-9][a-z0-9-]{0,62}$")
_ASSOCIATE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_TIERS = frozenset(int(t) for t in Tier)
MAX_BIRTHDAY_WINDOW = 366


@dataclass(frozen=True, slots=True)
class LifetimeValueInput:
    currency_code: str = ""
    min_units: int | None = None
    max_units: int | None = None


@dataclass(frozen=True, slots=True)
class SegmentInput:
    """A segment as the request spells it; unset optional parts are None."""

    tags: Sequence[str] = ()
    tiers: Sequence[int] = ()
    home_stores: Sequence[str] = ()
    preferences: Sequence[tuple[str, str]] = ()
    associates: Sequence[str] = ()
    birthday_within_days: int = 0
    # (channel, purpose)
    consent: tuple[int, int] | None = None
    lifetime_value: LifetimeValueInput | None = None
    last_purchase_after: datetime | None = None
    last_purchase_before: datetime | None = None


@dataclass(frozen=True)
class SegmentFilter:
    tags: tuple[str, ...] = ()
    tiers: tuple[int, ...] = ()
    home_stores: tuple[str, ...] = ()
    last_purchase_after: datetime | None = None
    last_purchase_before: datetime | None = None
    currency: str | None = None
    min_units: int | None = None
    max_units: int | None = None
    preferences: tuple[tuple[str, str], ...] = ()
    # Birthdays as month * 100 + day, e.g. 1224 for 24 December.
    birthdays: tuple[int, ...] = ()
    consent: Requirement | None = None
    associates: tuple[str, ...] = ()

    @property
    def needs_purchase_stats(self) -> bool:
        return any(
            v is not None for v in (self.last_purchase_after, self.last_purchase_before, self.min_units, self.max_units)
        )


def parse(segment: SegmentInput, today: date, prefix: str = "segment.") -> SegmentFilter:
    v = Violations()
    tags = []
    for i, raw in enumerate(segment.tags):
        tag = raw.strip().lower()
        v.require(bool(_TAG.match(tag)), f"{prefix}tags[{i}]", "lower-case letters, digits and -, at most 40")
        tags.append(tag)
    for i, tier in enumerate(segment.tiers):
        v.require(tier != 0 and tier in _TIERS, f"{prefix}tiers[{i}]", "a tier")
    for i, store in enumerate(segment.home_stores):
        v.require(bool(_STORE.match(store)), f"{prefix}home_stores[{i}]", "a store name such as stores/paris")
    prefs = []
    for i, (raw_category, raw_value) in enumerate(segment.preferences):
        category, value = raw_category.strip().lower(), " ".join(raw_value.split())
        v.require(bool(category and value), f"{prefix}preferences[{i}]", "category and value required")
        prefs.append((category, value))
    for i, associate in enumerate(segment.associates):
        v.require(bool(_ASSOCIATE.match(associate)), f"{prefix}associates[{i}]", "an associate id")
    n = segment.birthday_within_days
    v.require(0 <= n <= MAX_BIRTHDAY_WINDOW, f"{prefix}birthday_within_days", f"0-{MAX_BIRTHDAY_WINDOW}")
    required = None
    if segment.consent is not None:
        required = read_requirement(*segment.consent, f"{prefix}consent.", v)
    currency = min_units = max_units = None
    ltv = segment.lifetime_value
    if ltv is not None:
        min_units, max_units = ltv.min_units, ltv.max_units
        v.require(
            bool(_CURRENCY.match(ltv.currency_code)),
            f"{prefix}lifetime_value.currency_code",
            "an ISO 4217 code, e.g. EUR",
        )
        v.require(
            min_units is not None or max_units is not None,
            f"{prefix}lifetime_value",
            "set min_units, max_units or both",
        )
        currency = ltv.currency_code
    after, before = segment.last_purchase_after, segment.last_purchase_before
    if after and before:
        v.require(after < before, f"{prefix}last_purchase_before", "must be after last_purchase_after")
    v.raise_if_any()
    return SegmentFilter(
        tags=tuple(dict.fromkeys(tags)),
        tiers=tuple(sorted({int(t) for t in segment.tiers})),
        home_stores=tuple(sorted(set(segment.home_stores))),
        last_purchase_after=after,
        last_purchase_before=before,
        currency=currency,
        min_units=min_units,
        max_units=max_units,
        preferences=tuple(prefs),
        birthdays=birthday_days(today, n) if n else (),
        consent=required,
        associates=tuple(sorted(set(segment.associates))),
    )


def birthday_days(today: date, within: int) -> tuple[int, ...]:
    """Month-day keys of the `within` days starting today. Someone born on 29 February
    is greeted on the 28th in years without one."""
    days = []
    for offset in range(within):
        d = today + timedelta(days=offset)
        days.append(d.month * 100 + d.day)
        if d.month == 2 and d.day == 28 and not calendar.isleap(d.year):
            days.append(229)
    return tuple(dict.fromkeys(days))
