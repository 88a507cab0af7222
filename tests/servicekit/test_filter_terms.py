"""The filter terms lists share (servicekit.filter_terms), without I/O."""

from __future__ import annotations

import pytest

from servicekit import filter_terms
from servicekit.errors import InvalidArgument
from servicekit.filter_terms import Term


def test_terms_joined_by_and_bare_or_quoted():
    text = ' tier = TIER_VIP AND home_store="stores/paris" AND tags:"say \\"hi\\"" '
    assert list(filter_terms.read(text, "x")) == [
        Term("tier", "=", "TIER_VIP", "tier = TIER_VIP"),
        Term("home_store", "=", "stores/paris", 'home_store="stores/paris"'),
        Term("tags", ":", 'say "hi"', 'tags:"say \\"hi\\""'),
    ]
    assert list(filter_terms.read("   ", "x")) == []


def test_a_term_that_cannot_be_read_names_the_filter_and_the_example():
    terms = filter_terms.read('tier = VIP AND price > 3 AND tags:"a"', 'tier = TIER_VIP AND tags:"a"')
    assert next(terms).name == "tier"  # read one at a time: the list judges each before the next is read
    with pytest.raises(InvalidArgument) as caught:
        next(terms)
    assert caught.value.violations == [
        ("filter", "cannot read 'price > 3'; expected e.g. tier = TIER_VIP AND tags:\"a\"")
    ]


def test_a_term_the_list_does_not_take():
    term = Term("price", "=", "3", "price = 3")
    assert filter_terms.unsupported(term, "tier =, tags:").violations == [
        ("filter", "unsupported term 'price = 3'; use tier =, tags:")
    ]
