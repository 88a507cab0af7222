"""Computed tags: rules that turn purchase facts into tags, each with the reason it applies.

Fact-based tags (VIP, category affinity) are evaluated when the facts change — a purchase
or a return — and stored with their reason. Time-based tags (lapsed, new client) depend
on today's date as much as on the facts, so they are derived when the customer is read
from the stored first and last purchase dates: they never go stale and need no batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from servicekit.config import ConfigError

from .money import CURRENCIES, amount_words, words

VIP = "vip"
LAPSED = "lapsed"
NEW_CLIENT = "new-client"
AFFINITY_PREFIX = "affinity-"
# A category earns an affinity tag when it is at least this share of her (net) spend in
# some currency: a clear leaning, not a one-off among many categories.
AFFINITY_SHARE = Decimal("0.3")

DEFAULT_VIP_THRESHOLDS = "EUR:10000,USD:11000,CNY:80000"
DEFAULT_LAPSED_DAYS = 365
DEFAULT_NEW_DAYS = 30


@dataclass(frozen=True)
class TagRules:
    """Thresholds of the rules, read once at start from the environment (app.py)."""

    vip_thresholds: dict[str, Decimal] = field(default_factory=dict)
    lapsed_days: int = DEFAULT_LAPSED_DAYS
    new_days: int = DEFAULT_NEW_DAYS

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> TagRules:
        return cls(
            vip_thresholds=parse_thresholds(
                environ.get("ATELIER_TAG_VIP_THRESHOLDS", "").strip() or DEFAULT_VIP_THRESHOLDS
            ),
            lapsed_days=_days(environ, "ATELIER_TAG_LAPSED_DAYS", DEFAULT_LAPSED_DAYS),
            new_days=_days(environ, "ATELIER_TAG_NEW_DAYS", DEFAULT_NEW_DAYS),
        )


def _days(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"environment variable {name} must be a positive number of days, got {raw!r}")
    return int(raw)


def parse_thresholds(raw: str) -> dict[str, Decimal]:
    """ "EUR:10000,USD:11000" → {"EUR": Decimal(10000), "USD": Decimal(11000)}."""
    out: dict[str, Decimal] = {}
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        currency, _, amount = item.partition(":")
        currency = currency.strip().upper()
        try:
            value = Decimal(amount.strip())
        except InvalidOperation:
            value = Decimal(-1)
        if currency not in CURRENCIES or not value.is_finite() or value <= 0:
            raise ConfigError(f"ATELIER_TAG_VIP_THRESHOLDS: {item!r} is not CURRENCY:AMOUNT (e.g. EUR:10000)")
        out[currency] = value
    return out


@dataclass(frozen=True)
class CurrencyStats:
    """A customer's purchase figures in one currency (net of returns)."""

    currency: str
    lifetime_value: Decimal
    order_count: int
    first_purchase: datetime | None
    last_purchase: datetime | None
    category_spend: dict[str, Decimal]


@dataclass(frozen=True)
class Tag:
    tag: str
    reason: str
    # None for stored tags not yet stored: they apply from when they are first stored.
    since: datetime | None = None


def category_slug(category: str) -> str:
    slug = "".join(ch if ch.isalnum() else "-" for ch in category.strip().lower())
    return "-".join(part for part in slug.split("-") if part)[:40]


def stored_tags(stats: list[CurrencyStats], rules: TagRules) -> list[Tag]:
    """The fact-based tags that apply, to store until the facts change again."""
    tags: list[Tag] = []
    vip = [
        f"lifetime value {words(s.currency, s.lifetime_value)} ≥ {amount_words(rules.vip_thresholds[s.currency])}"
        for s in sorted(stats, key=lambda s: s.currency)
        if s.currency in rules.vip_thresholds and s.lifetime_value >= rules.vip_thresholds[s.currency]
    ]
    if vip:
        tags.append(Tag(VIP, "; ".join(vip)))
    affinities: dict[str, str] = {}
    for s in sorted(stats, key=lambda s: s.currency):
        total = sum((v for v in s.category_spend.values() if v > 0), Decimal(0))
        if total <= 0:
            continue
        for category, spent in sorted(s.category_spend.items()):
            slug = category_slug(category)
            if not slug or spent <= 0 or slug in affinities:
                continue
            share = spent / total
            if share >= AFFINITY_SHARE:
                affinities[slug] = (
                    f"{category}: {share:.0%} of spend ({words(s.currency, spent)} of {amount_words(total)})"
                )
    tags += [Tag(AFFINITY_PREFIX + slug, reason) for slug, reason in sorted(affinities.items())]
    return tags


def dated_tags(
    first_purchase: datetime | None, last_purchase: datetime | None, rules: TagRules, now: datetime
) -> list[Tag]:
    """The time-based tags that apply at `now`, from the first and last purchase dates."""
    tags: list[Tag] = []
    if first_purchase is not None and now - first_purchase < timedelta(days=rules.new_days):
        tags.append(
            Tag(
                NEW_CLIENT,
                f"first purchase on {first_purchase.date().isoformat()}, less than {rules.new_days} days ago",
                first_purchase,
            )
        )
    if last_purchase is not None and now - last_purchase >= timedelta(days=rules.lapsed_days):
        tags.append(
            Tag(
                LAPSED,
                f"no purchase since {last_purchase.date().isoformat()} "
                f"({(now - last_purchase).days} days, limit {rules.lapsed_days})",
                last_purchase + timedelta(days=rules.lapsed_days),
            )
        )
    return tags


def favourite_categories(stats: list[CurrencyStats], limit: int = 5) -> list[str]:
    """Categories by spend, most first. Amounts in different currencies do not add up, so
    each currency contributes its categories' shares of its spend, weighted by its
    number of orders."""
    score: dict[str, Decimal] = {}
    for s in stats:
        total = sum((v for v in s.category_spend.values() if v > 0), Decimal(0))
        if total <= 0:
            continue
        for category, spent in s.category_spend.items():
            if spent > 0 and category:
                score[category] = score.get(category, Decimal(0)) + spent / total * s.order_count
    return [c for c, _ in sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))][:limit]
