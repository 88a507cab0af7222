"""The computed-tag rules, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from servicekit.config import ConfigError
from services.customer.domain import computed_tags as ct
from services.customer.domain.computed_tags import CurrencyStats, TagRules

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
RULES = TagRules(vip_thresholds={"EUR": Decimal(10000), "USD": Decimal(11000)}, lapsed_days=365, new_days=30)


def stats(currency="EUR", ltv="0", orders=1, spend=None, first=None, last=None):
    return CurrencyStats(currency, Decimal(ltv), orders, first, last, {k: Decimal(v) for k, v in (spend or {}).items()})


def test_rules_from_environment():
    rules = TagRules.from_env(
        {
            "ATELIER_TAG_VIP_THRESHOLDS": "eur:10000, USD:11000.5,CNY:80000",
            "ATELIER_TAG_LAPSED_DAYS": "180",
            "ATELIER_TAG_NEW_DAYS": "14",
        }
    )
    assert rules.vip_thresholds == {"EUR": Decimal(10000), "USD": Decimal("11000.5"), "CNY": Decimal(80000)}
    assert (rules.lapsed_days, rules.new_days) == (180, 14)


def test_defaults_when_unset():
    rules = TagRules.from_env({})
    assert rules.vip_thresholds == {"EUR": Decimal(10000), "USD": Decimal(11000), "CNY": Decimal(80000)}
    assert (rules.lapsed_days, rules.new_days) == (365, 30)


@pytest.mark.parametrize(
    "env",
    [
        {"ATELIER_TAG_VIP_THRESHOLDS": "EUR10000"},
        {"ATELIER_TAG_VIP_THRESHOLDS": "XXX:100"},
        {"ATELIER_TAG_VIP_THRESHOLDS": "EUR:-5"},
        {"ATELIER_TAG_VIP_THRESHOLDS": "EUR:lots"},
        {"ATELIER_TAG_LAPSED_DAYS": "0"},
        {"ATELIER_TAG_NEW_DAYS": "a month"},
    ],
)
def test_bad_configuration_fails_fast_naming_the_variable(env):
    with pytest.raises(ConfigError) as err:
        TagRules.from_env(env)
    assert next(iter(env)) in str(err.value)


def test_vip_at_the_threshold_with_its_reason():
    assert ct.stored_tags([stats(ltv="9999.99")], RULES) == []
    [vip] = ct.stored_tags([stats(ltv="12400")], RULES)
    assert (vip.tag, vip.reason) == ("vip", "lifetime value EUR 12,400 ≥ 10,000")
    [vip] = ct.stored_tags([stats(ltv="10000")], RULES)
    assert vip.reason == "lifetime value EUR 10,000 ≥ 10,000"


def test_vip_is_per_currency_and_unknown_currencies_never_qualify():
    assert ct.stored_tags([stats("EUR", "9000"), stats("USD", "9000"), stats("JPY", "99999999")], RULES) == []
    [vip] = ct.stored_tags([stats("EUR", "10500.5"), stats("USD", "20000")], RULES)
    assert vip.reason == "lifetime value EUR 10,500.50 ≥ 10,000; lifetime value USD 20,000 ≥ 11,000"


def test_affinity_from_share_of_spend():
    tags = ct.stored_tags(
        [stats(ltv="1000", spend={"High Jewellery": "650", "fragrance": "50", "watches": "300"})], RULES
    )
    assert [(t.tag, t.reason) for t in tags] == [
        ("affinity-high-jewellery", "High Jewellery: 65% of spend (EUR 650 of 1,000)"),
        ("affinity-watches", "watches: 30% of spend (EUR 300 of 1,000)"),
    ]


def test_fully_returned_categories_earn_nothing():
    assert ct.stored_tags([stats(spend={"watches": "0", "bags": "0"})], RULES) == []


def test_new_client_for_the_first_days_after_the_first_purchase():
    first = NOW - timedelta(days=29, hours=23)
    [tag] = ct.dated_tags(first, first, RULES, NOW)
    assert tag.tag == "new-client" and tag.since == first and "2026-05-02" in tag.reason
    assert ct.dated_tags(NOW - timedelta(days=30), NOW - timedelta(days=1), RULES, NOW) == []


def test_lapsed_after_n_days_without_purchase():
    last = NOW - timedelta(days=365)
    [tag] = ct.dated_tags(NOW - timedelta(days=900), last, RULES, NOW)
    assert tag.tag == "lapsed" and tag.since == NOW
    assert tag.reason == "no purchase since 2025-06-01 (365 days, limit 365)"
    assert ct.dated_tags(NOW - timedelta(days=900), NOW - timedelta(days=364), RULES, NOW) == []


def test_no_purchases_no_dated_tags():
    assert ct.dated_tags(None, None, RULES, NOW) == []


def test_favourite_categories_weigh_currencies_by_orders():
    favourites = ct.favourite_categories(
        [
            stats("EUR", orders=4, spend={"watches": "800", "bags": "200"}),
            stats("CNY", orders=1, spend={"jewellery": "90000"}),
        ]
    )
    assert favourites == ["watches", "jewellery", "bags"]


def test_category_slug():
    assert ct.category_slug("  Leather Goods & Small/Items ") == "leather-goods-small-items"
