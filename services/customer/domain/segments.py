"""A Segment (the audience of a campaign) read from the API message: validated, with
the birthday window turned into calendar days. Pure, no I/O."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from atelier.common.v1 import common_pb2
from atelier.customer.v1 import customer_pb2, segment_pb2
from servicekit.errors import Violations

_TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_STORE = re.compile(r"^stores/[a-z0-9][a-z0-9-]{0,62}$")
_ASSOCIATE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_BIRTHDAY_WINDOW = 366


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
    consent: tuple[int, int] | None = None
    associates: tuple[str, ...] = ()

    @property
    def needs_purchase_stats(self) -> bool:
        return any(
            v is not None for v in (self.last_purchase_after, self.last_purchase_before, self.min_units, self.max_units)
        )


def parse(segment: segment_pb2.Segment, today: date, prefix: str = "segment.") -> SegmentFilter:
    v = Violations()
    tags = []
    for i, tag in enumerate(segment.tags):
        tag = tag.strip().lower()
        v.require(bool(_TAG.match(tag)), f"{prefix}tags[{i}]", "lower-case letters, digits and -, at most 40")
        tags.append(tag)
    for i, tier in enumerate(segment.tiers):
        v.require(tier != 0 and tier in customer_pb2.Tier.values(), f"{prefix}tiers[{i}]", "a tier")
    for i, store in enumerate(segment.home_stores):
        v.require(bool(_STORE.match(store)), f"{prefix}home_stores[{i}]", "a store name such as stores/paris")
    prefs = []
    for i, pref in enumerate(segment.preferences):
        category, value = pref.category.strip().lower(), " ".join(pref.value.split())
        v.require(bool(category and value), f"{prefix}preferences[{i}]", "category and value required")
        prefs.append((category, value))
    for i, associate in enumerate(segment.associates):
        v.require(bool(_ASSOCIATE.match(associate)), f"{prefix}associates[{i}]", "an associate id")
    n = segment.birthday_within_days
    v.require(0 <= n <= MAX_BIRTHDAY_WINDOW, f"{prefix}birthday_within_days", f"0-{MAX_BIRTHDAY_WINDOW}")
    consent = None
    if segment.HasField("consent"):
        c = segment.consent
        v.require(c.channel != 0 and c.channel in common_pb2.Channel.values(), f"{prefix}consent.channel", "a channel")
        v.require(c.purpose != 0 and c.purpose in common_pb2.Purpose.values(), f"{prefix}consent.purpose", "a purpose")
        consent = (int(c.channel), int(c.purpose))
    ltv = segment.lifetime_value
    currency = min_units = max_units = None
    if segment.HasField("lifetime_value"):
        min_units = ltv.min_units if ltv.HasField("min_units") else None
        max_units = ltv.max_units if ltv.HasField("max_units") else None
        v.require(
            bool(_CURRENCY.match(ltv.currency_code)), f"{prefix}lifetime_value.currency_code", "an ISO 4217 code, e.g. EUR"
        )
        v.require(
            min_units is not None or max_units is not None, f"{prefix}lifetime_value", "set min_units, max_units or both"
        )
        currency = ltv.currency_code
    after = segment.last_purchase_after.ToDatetime() if segment.HasField("last_purchase_after") else None
    before = segment.last_purchase_before.ToDatetime() if segment.HasField("last_purchase_before") else None
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
        consent=consent,
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
