"""Replays keyed by the caller's own ids (services/customer/domain/replays.py and the
purchase and interaction fingerprints): the same request answers what was recorded, a
different one is refused naming the id's field."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from servicekit.errors import Code, FailedPrecondition
from services.customer.domain import interactions, purchases, replays
from services.customer.domain.profile import ContactPoint

WHEN = datetime(2025, 3, 1, 15, 30, tzinfo=UTC)
SALE = purchases.NewPurchase(
    channel=1,
    order_id="pos-1",
    store="stores/paris",
    assisting_associate="",
    currency="EUR",
    order_time=WHEN,
    lines=(purchases.Line("l1", "RING-3", "Ring", "rings", 1, Decimal("900")),),
)
CLIENT = {"contact_points": [ContactPoint(1, "mei@example.com", True)], "given_name": "Mei", "family_name": "Wang"}


def test_the_same_request_has_the_same_fingerprint():
    assert purchases.fingerprint("c-1", None, SALE) == purchases.fingerprint("c-1", None, replace(SALE))
    assert purchases.fingerprint(None, CLIENT, SALE) == purchases.fingerprint(None, dict(CLIENT), SALE)
    # An amount spelled differently is the same amount.
    same_price = replace(SALE, lines=(replace(SALE.lines[0], unit_price=Decimal("900.000")),))
    assert purchases.fingerprint("c-1", None, same_price) == purchases.fingerprint("c-1", None, SALE)


@pytest.mark.parametrize(
    "other",
    [
        ("c-2", None, SALE),
        (None, CLIENT, SALE),
        ("c-1", None, replace(SALE, lines=(replace(SALE.lines[0], quantity=2),))),
        ("c-1", None, replace(SALE, lines=(replace(SALE.lines[0], unit_price=Decimal("9")),))),
        ("c-1", None, replace(SALE, lines=(*SALE.lines, replace(SALE.lines[0], line_id="l2")))),
        ("c-1", None, replace(SALE, store="stores/lyon")),
        ("c-1", None, replace(SALE, order_time=datetime(2025, 3, 2, tzinfo=UTC))),
    ],
    ids=["customer", "by-contact", "quantity", "price", "lines", "store", "time"],
)
def test_another_customer_line_amount_store_or_time_is_another_request(other):
    assert purchases.fingerprint(*other) != purchases.fingerprint("c-1", None, SALE)


def test_a_conflicting_replay_is_refused_naming_the_id():
    purchases.check_replay(purchases.fingerprint("c-1", None, SALE), purchases.fingerprint("c-1", None, SALE))
    purchases.check_replay(None, "anything")  # recorded before fingerprints were kept
    with pytest.raises(FailedPrecondition) as caught:
        purchases.check_replay("a", "b")
    assert caught.value.code is Code.FAILED_PRECONDITION
    assert caught.value.reason == replays.ORDER_ID_REUSED
    assert caught.value.metadata == {"field": "purchase.order_id"}


def test_an_interaction_replay_must_repeat_every_field():
    visit = interactions.NewInteraction(2, 0, 0, "", "stores/paris", "", "", "", "v-1", WHEN)
    interactions.check_replay(interactions.fingerprint(visit), interactions.fingerprint(replace(visit)))
    with pytest.raises(FailedPrecondition) as caught:
        interactions.check_replay(
            interactions.fingerprint(visit), interactions.fingerprint(replace(visit, preview="hi"))
        )
    assert caught.value.reason == replays.EXTERNAL_ID_REUSED
    assert caught.value.metadata == {"field": "interaction.external_id"}
