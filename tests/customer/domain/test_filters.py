"""The ListCustomers filter language (services/customer/domain/filters.py), no database."""

from __future__ import annotations

import pytest

from atelier.customer.v1 import customer_pb2
from servicekit.errors import InvalidArgument
from services.customer.domain import filters


def test_empty_filter_matches_everything():
    assert filters.parse("") == filters.CustomerFilter()
    assert filters.parse("   ") == filters.CustomerFilter()


def test_all_terms_joined_with_and():
    parsed = filters.parse('tier = TIER_VIP AND home_store = "stores/paris" AND tags:"Press" AND tags:vip')
    assert parsed == filters.CustomerFilter(
        tier=customer_pb2.TIER_VIP, home_store="stores/paris", tags=("press", "vip")
    )


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        ("tier = TIER_VVIP", customer_pb2.TIER_VVIP),
        ("tier=vip", customer_pb2.TIER_VIP),
        ('tier = "client"', customer_pb2.TIER_CLIENT),
    ],
)
def test_tier_spellings(text, tier):
    assert filters.parse(text).tier == tier


def test_unquoted_store_and_escaped_quotes():
    assert filters.parse("home_store = stores/lyon").home_store == "stores/lyon"
    assert filters.parse(r'tags:"a\"b"').tags == ('a"b',)


@pytest.mark.parametrize(
    "text",
    [
        "tier = TIER_GOLD",  # unknown tier
        "tier : TIER_VIP",  # has-operator on tier
        "home_store : stores/paris",
        "given_name = Hélène",  # unsupported field
        "tier = TIER_VIP OR tier = TIER_VVIP",
        "tier = TIER_VIP and tags:press",  # AND is upper-case
        "tier =",
        'tags:"unterminated',
        "AND",
    ],
)
def test_bad_filters_name_the_filter_field(text):
    with pytest.raises(InvalidArgument) as caught:
        filters.parse(text)
    assert [f for f, _ in caught.value.violations] == ["filter"]
