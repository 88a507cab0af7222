"""What makes a purchase or a return acceptable: validated from the API message without
I/O. Violations name the field as the caller spelled it (`purchase.lines[1].quantity`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from atelier.customer.v1 import purchase_pb2
from servicekit import wire
from servicekit.errors import Violations

from . import money

Channel = purchase_pb2.SalesChannel

_STORE = re.compile(r"^stores/[a-z0-9][a-z0-9-]{0,62}$")
_ASSOCIATE = re.compile(r"^associates/[a-z0-9][a-z0-9-]{0,62}$")
MAX_LINES = 500
MAX_ID = 128
MAX_TEXT = 200
MAX_QUANTITY = 100_000
# Tills' clocks drift; an order a few minutes "in the future" is a clock, not a lie.
CLOCK_SKEW = timedelta(minutes=10)


@dataclass(frozen=True)
class Line:
    line_id: str
    sku: str
    product_name: str
    category: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class NewPurchase:
    channel: int
    order_id: str
    store: str
    assisting_associate: str
    currency: str
    order_time: datetime
    lines: tuple[Line, ...]

    @property
    def total(self) -> Decimal:
        return sum((line.unit_price * line.quantity for line in self.lines), Decimal(0))


def read(msg: purchase_pb2.Purchase, prefix: str, violations: Violations, now: datetime) -> NewPurchase:
    at = lambda f: f"{prefix}{f}"  # noqa: E731 - tiny formatter for field paths
    if msg.channel not in (Channel.SALES_CHANNEL_STORE, Channel.SALES_CHANNEL_ONLINE):
        violations.add(at("channel"), "required: SALES_CHANNEL_STORE or SALES_CHANNEL_ONLINE")
    order_id = msg.order_id.strip()
    violations.require(0 < len(order_id) <= MAX_ID, at("order_id"), f"required, at most {MAX_ID} characters")
    if msg.store:
        violations.require(bool(_STORE.match(msg.store)), at("store"), "a store name such as stores/paris-faubourg")
    elif msg.channel == Channel.SALES_CHANNEL_STORE:
        violations.add(at("store"), "required for a sale in a store")
    if msg.assisting_associate:
        violations.require(
            bool(_ASSOCIATE.match(msg.assisting_associate)), at("assisting_associate"),
            "an associate name such as associates/a-123",
        )
    order_time = None
    if not msg.HasField("order_time"):
        violations.add(at("order_time"), "required: when the sale happened")
    else:
        order_time = msg.order_time.ToDatetime(tzinfo=timezone.utc)
        violations.require(order_time <= now + CLOCK_SKEW, at("order_time"), "must not be in the future")
    lines, currency = _lines(msg, at("lines"), violations)
    return NewPurchase(
        channel=int(msg.channel), order_id=order_id, store=msg.store,
        assisting_associate=msg.assisting_associate, currency=currency,
        order_time=order_time or now, lines=tuple(lines),
    )


def _lines(msg: purchase_pb2.Purchase, path: str, violations: Violations) -> tuple[list[Line], str]:
    if not msg.lines:
        violations.add(path, "required: at least one line")
    violations.require(len(msg.lines) <= MAX_LINES, path, f"at most {MAX_LINES}")
    currency = ""
    seen: set[str] = set()
    lines: list[Line] = []
    for i, line in enumerate(msg.lines):
        at = f"{path}[{i}]"
        line_id = line.line_id.strip() or str(i + 1)
        if len(line_id) > MAX_ID:
            violations.add(f"{at}.line_id", f"at most {MAX_ID} characters")
        elif line_id in seen:
            violations.add(f"{at}.line_id", "listed twice in this purchase")
        seen.add(line_id)
        sku = line.sku.strip()
        violations.require(0 < len(sku) <= MAX_ID, f"{at}.sku", f"required, at most {MAX_ID} characters")
        violations.require(len(line.product_name) <= MAX_TEXT, f"{at}.product_name", f"at most {MAX_TEXT} characters")
        category = line.category.strip().lower()
        violations.require(len(category) <= MAX_TEXT, f"{at}.category", f"at most {MAX_TEXT} characters")
        violations.require(
            0 < line.quantity <= MAX_QUANTITY, f"{at}.quantity", f"must be between 1 and {MAX_QUANTITY:,}"
        )
        if not line.HasField("unit_price"):
            violations.add(f"{at}.unit_price", "required")
            continue
        trouble = money.problem(line.unit_price)
        if trouble:
            field = "currency_code" if "currency" in trouble else ("nanos" if "nanos" in trouble else "units")
            violations.add(f"{at}.unit_price.{field}", trouble)
            continue
        if not currency:
            currency = line.unit_price.currency_code
        elif line.unit_price.currency_code != currency:
            violations.add(f"{at}.unit_price.currency_code", f"all lines of a purchase share one currency ({currency})")
            continue
        lines.append(Line(line_id, sku, line.product_name.strip(), category, line.quantity,
                          wire.to_decimal(line.unit_price)))
    return lines, currency


@dataclass(frozen=True)
class NewReturn:
    return_id: str
    quantities: dict[str, int]
    return_time: datetime


def read_return(request, violations: Violations, now: datetime) -> NewReturn:
    return_id = request.return_id.strip()
    violations.require(0 < len(return_id) <= MAX_ID, "return_id", f"required, at most {MAX_ID} characters")
    if not request.lines:
        violations.add("lines", "required: at least one line brought back")
    quantities: dict[str, int] = {}
    for i, line in enumerate(request.lines):
        line_id = line.line_id.strip()
        if not line_id:
            violations.add(f"lines[{i}].line_id", "required: the purchase line brought back")
        elif line_id in quantities:
            violations.add(f"lines[{i}].line_id", "listed twice in this return")
        if line.quantity <= 0:
            violations.add(f"lines[{i}].quantity", "must be at least 1")
        if line_id and line_id not in quantities:
            quantities[line_id] = line.quantity
    return_time = now
    if request.HasField("return_time"):
        return_time = request.return_time.ToDatetime(tzinfo=timezone.utc)
        violations.require(return_time <= now + CLOCK_SKEW, "return_time", "must not be in the future")
    return NewReturn(return_id, quantities, return_time)


def check_returnable(
    new: NewReturn, lines: dict[str, tuple[int, int]], order_time: datetime, violations: Violations
) -> None:
    """`lines` maps line id → (quantity bought, quantity already returned)."""
    for i, (line_id, quantity) in enumerate(new.quantities.items()):
        if line_id not in lines:
            violations.add(f"lines[{i}].line_id", f"the purchase has no line {line_id!r}")
            continue
        bought, returned = lines[line_id]
        if quantity > bought - returned:
            violations.add(
                f"lines[{i}].quantity",
                f"at most {bought - returned} left to return ({bought} bought, {returned} returned)",
            )
    violations.require(new.return_time >= order_time, "return_time", "must not be before the purchase")
