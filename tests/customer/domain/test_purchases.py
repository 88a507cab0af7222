"""Purchases and returns from the request's values (services/customer/domain/purchases.py
and money.py), no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from servicekit.errors import InvalidArgument, Violations
from services.customer.domain import money, purchases
from services.customer.domain.purchases import BoughtLine, LineInput, PurchaseInput, ReturnInput, SalesChannel

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def eur(units: int, nanos: int = 0, currency: str = "EUR") -> money.Price:
    return money.Price(currency, units, nanos)


def read(given: PurchaseInput) -> tuple[purchases.NewPurchase, list[str]]:
    violations = Violations()
    new = purchases.read(given, "purchase.", violations, NOW)
    return new, [f for f, _ in violations.items]


def test_a_purchase_is_read_with_exact_amounts():
    new, fields = read(
        PurchaseInput(
            channel=SalesChannel.STORE,
            order_id=" pos-1 ",
            store="stores/paris",
            order_time=NOW - timedelta(hours=1),
            lines=[
                LineInput(sku="BAG", category=" Leather Goods ", quantity=2, unit_price=eur(1200, 250_000_000)),
                LineInput(line_id="x", sku="SCARF", category="silk", quantity=1, unit_price=eur(300)),
            ],
        )
    )
    assert fields == []
    assert new.order_id == "pos-1"
    assert [line.line_id for line in new.lines] == ["1", "x"]
    assert new.total == Decimal("2700.5")
    assert new.category_spend() == {"leather goods": Decimal("2400.5"), "silk": Decimal(300)}


def test_every_bad_field_of_a_purchase_is_named():
    _, fields = read(
        PurchaseInput(
            channel=SalesChannel.STORE,
            order_time=NOW + timedelta(hours=1),
            lines=[
                LineInput(sku="A", quantity=0, unit_price=eur(1)),
                LineInput(sku="B", quantity=1),
                LineInput(sku="C", quantity=1, unit_price=eur(1, -5)),
                LineInput(sku="D", quantity=1, unit_price=eur(-1)),
                LineInput(sku="E", quantity=1, unit_price=eur(1, currency="XAU")),
                LineInput(sku="F", quantity=1, unit_price=eur(1, currency="USD")),
            ],
        )
    )
    assert fields == [
        "purchase.order_id",
        "purchase.store",
        "purchase.order_time",
        "purchase.lines[0].quantity",
        "purchase.lines[1].unit_price",
        "purchase.lines[2].unit_price.nanos",
        "purchase.lines[3].unit_price.units",
        "purchase.lines[4].unit_price.currency_code",
        "purchase.lines[5].unit_price.currency_code",
    ]


def test_an_online_order_needs_no_store_but_a_channel_and_lines():
    _, fields = read(PurchaseInput(channel=SalesChannel.ONLINE, order_id="web-1", order_time=NOW))
    assert fields == ["purchase.lines"]
    _, fields = read(PurchaseInput(order_id="web-1", order_time=NOW, lines=[LineInput(sku="A", quantity=1)]))
    assert fields[0] == "purchase.channel"


BOUGHT = {"1": BoughtLine("bags", 2, 1, Decimal(100)), "2": BoughtLine("silk", 1, 0, Decimal(30))}


def test_a_return_takes_back_what_is_left_and_refunds_per_category():
    violations = Violations()
    new = purchases.read_return(ReturnInput("r-1", [("1", 1), (" 2 ", 1)]), violations, NOW)
    assert violations.items == []
    purchases.check_returnable(new, BOUGHT, NOW - timedelta(days=1))
    assert purchases.refund_spend(new, BOUGHT) == {"bags": Decimal(-100), "silk": Decimal(-30)}


def test_a_return_of_more_than_is_left_or_of_an_unknown_line_is_refused():
    new = purchases.NewReturn("r-1", {"1": 2, "9": 1}, NOW - timedelta(days=2))
    with pytest.raises(InvalidArgument) as refused:
        purchases.check_returnable(new, BOUGHT, NOW - timedelta(days=1))
    assert [f for f, _ in refused.value.violations] == ["lines[0].quantity", "lines[1].line_id", "return_time"]


def test_a_return_request_names_every_bad_line():
    violations = Violations()
    purchases.read_return(ReturnInput("", [("", 1), ("1", 0), ("1", 1)], NOW + timedelta(hours=1)), violations, NOW)
    assert [f for f, _ in violations.items] == [
        "return_id",
        "lines[0].line_id",
        "lines[1].quantity",
        "lines[2].line_id",
        "return_time",
    ]
