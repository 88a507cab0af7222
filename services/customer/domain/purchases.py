"""What makes a purchase or a return acceptable, from the request's values, without I/O.
Violations name the field as the caller spelled it (`purchase.lines[1].quantity`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import IntEnum
from typing import Any

from servicekit.errors import Violations, invalid

from . import money, replays
from .directory import StaffRecord


class SalesChannel(IntEnum):
    """atelier.customer.v1.SalesChannel, same numbers."""

    UNSPECIFIED = 0
    STORE = 1
    ONLINE = 2


_STORE = re.compile(r"^stores/[a-z0-9][a-z0-9-]{0,62}$")
_ASSOCIATE = re.compile(r"^associates/[a-z0-9][a-z0-9-]{0,62}$")
MAX_LINES = 500
MAX_ID = 128
MAX_TEXT = 200
MAX_QUANTITY = 100_000
# Tills' clocks drift; an order a few minutes "in the future" is a clock, not a lie.
CLOCK_SKEW = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class LineInput:
    """A purchase line as the request spells it (`unit_price` None when it has none)."""

    line_id: str = ""
    sku: str = ""
    product_name: str = ""
    category: str = ""
    quantity: int = 0
    unit_price: money.Price | None = None


@dataclass(frozen=True, slots=True)
class PurchaseInput:
    """A purchase as the request spells it (`order_time` None when it has none)."""

    channel: int = 0
    order_id: str = ""
    store: str = ""
    assisting_associate: str = ""
    order_time: datetime | None = None
    lines: Sequence[LineInput] = ()


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

    def category_spend(self) -> dict[str, Decimal]:
        """What the purchase adds to her spend per category."""
        spend: dict[str, Decimal] = {}
        for line in self.lines:
            spend[line.category] = spend.get(line.category, Decimal(0)) + line.unit_price * line.quantity
        return spend


def read(given: PurchaseInput, prefix: str, violations: Violations, now: datetime) -> NewPurchase:
    def at(name: str) -> str:
        return f"{prefix}{name}"

    if given.channel not in (SalesChannel.STORE, SalesChannel.ONLINE):
        violations.add(at("channel"), "required: SALES_CHANNEL_STORE or SALES_CHANNEL_ONLINE")
    order_id = given.order_id.strip()
    violations.require(0 < len(order_id) <= MAX_ID, at("order_id"), f"required, at most {MAX_ID} characters")
    if given.store:
        violations.require(bool(_STORE.match(given.store)), at("store"), "a store name such as stores/paris-faubourg")
    elif given.channel == SalesChannel.STORE:
        violations.add(at("store"), "required for a sale in a store")
    if given.assisting_associate:
        violations.require(
            bool(_ASSOCIATE.match(given.assisting_associate)),
            at("assisting_associate"),
            "an associate name such as associates/a-123",
        )
    if given.order_time is None:
        violations.add(at("order_time"), "required: when the sale happened")
    else:
        violations.require(given.order_time <= now + CLOCK_SKEW, at("order_time"), "must not be in the future")
    lines, currency = _lines(given.lines, at("lines"), violations)
    return NewPurchase(
        channel=int(given.channel),
        order_id=order_id,
        store=given.store,
        assisting_associate=given.assisting_associate,
        currency=currency,
        order_time=given.order_time or now,
        lines=tuple(lines),
    )


def _lines(given: Sequence[LineInput], path: str, violations: Violations) -> tuple[list[Line], str]:
    if not given:
        violations.add(path, "required: at least one line")
    violations.require(len(given) <= MAX_LINES, path, f"at most {MAX_LINES}")
    currency = ""
    seen: set[str] = set()
    lines: list[Line] = []
    for i, line in enumerate(given):
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
        if line.unit_price is None:
            violations.add(f"{at}.unit_price", "required")
            continue
        trouble = money.problem(line.unit_price)
        if trouble:
            field, why = trouble
            violations.add(f"{at}.unit_price.{field}", why)
            continue
        if not currency:
            currency = line.unit_price.currency
        elif line.unit_price.currency != currency:
            violations.add(f"{at}.unit_price.currency_code", f"all lines of a purchase share one currency ({currency})")
            continue
        lines.append(Line(line_id, sku, line.product_name.strip(), category, line.quantity, line.unit_price.amount))
    return lines, currency


def fingerprint(customer_id: str | None, client: Mapping[str, Any] | None, new: NewPurchase) -> str:
    """What a replay of the order (same channel and order id) must repeat (domain/replays):
    the customer named, or the client's contact points and names, and the whole purchase."""
    return replays.fingerprint(customer_id or "", dict(client or {}), new)


def check_replay(stored: str | None, given: str) -> None:
    """The order was already recorded: a replay must be the same request."""
    replays.check_replay(stored, given, field="purchase.order_id", reason=replays.ORDER_ID_REUSED, what="this order id")


@dataclass(frozen=True, slots=True)
class ReturnInput:
    """A return as the request spells it: (line id, quantity) pairs, `return_time` None when unset."""

    return_id: str = ""
    lines: Sequence[tuple[str, int]] = ()
    return_time: datetime | None = None


@dataclass(frozen=True)
class NewReturn:
    return_id: str
    quantities: dict[str, int]
    return_time: datetime


@dataclass(frozen=True)
class BoughtLine:
    """A line of a recorded purchase, as a return sees it."""

    category: str
    quantity: int
    returned: int
    unit_price: Decimal


def read_return(given: ReturnInput, violations: Violations, now: datetime) -> NewReturn:
    return_id = given.return_id.strip()
    violations.require(0 < len(return_id) <= MAX_ID, "return_id", f"required, at most {MAX_ID} characters")
    if not given.lines:
        violations.add("lines", "required: at least one line brought back")
    quantities: dict[str, int] = {}
    for i, (raw_id, quantity) in enumerate(given.lines):
        line_id = raw_id.strip()
        if not line_id:
            violations.add(f"lines[{i}].line_id", "required: the purchase line brought back")
        elif line_id in quantities:
            violations.add(f"lines[{i}].line_id", "listed twice in this return")
        if quantity <= 0:
            violations.add(f"lines[{i}].quantity", "must be at least 1")
        if line_id and line_id not in quantities:
            quantities[line_id] = quantity
    return_time = now
    if given.return_time is not None:
        return_time = given.return_time
        violations.require(return_time <= now + CLOCK_SKEW, "return_time", "must not be in the future")
    return NewReturn(return_id, quantities, return_time)


def check_returnable(new: NewReturn, lines: dict[str, BoughtLine], order_time: datetime) -> None:
    """Every line brought back was bought, and not returned already; raises with every violation."""
    violations = Violations()
    for i, (line_id, quantity) in enumerate(new.quantities.items()):
        if line_id not in lines:
            violations.add(f"lines[{i}].line_id", f"the purchase has no line {line_id!r}")
            continue
        bought, returned = lines[line_id].quantity, lines[line_id].returned
        if quantity > bought - returned:
            violations.add(
                f"lines[{i}].quantity",
                f"at most {bought - returned} left to return ({bought} bought, {returned} returned)",
            )
    violations.require(new.return_time >= order_time, "return_time", "must not be before the purchase")
    violations.raise_if_any()


def refund_spend(new: NewReturn, lines: dict[str, BoughtLine]) -> dict[str, Decimal]:
    """What the return takes off her spend per category (negative amounts)."""
    spend: dict[str, Decimal] = {}
    for line_id, quantity in new.quantities.items():
        line = lines[line_id]
        spend[line.category] = spend.get(line.category, Decimal(0)) - line.unit_price * quantity
    return spend


def assisting_id(new: NewPurchase) -> str:
    """The associate id of the member of staff the sale is credited to ("" for none)."""
    return new.assisting_associate.removeprefix("associates/")


def check_assisting(new: NewPurchase, staff: StaffRecord | None, field: str) -> None:
    """A sale is credited only to a member of staff the directory knows, active, and of
    the purchase's store (of any store when the purchase names none)."""
    if not new.assisting_associate:
        return
    if staff is None or not staff.active or (new.store and staff.store != new.store):
        where = new.store or "the maison"
        raise invalid(
            field,
            f"not an active associate of {where} (one created a moment ago may take a few seconds to be known here)",
        )
