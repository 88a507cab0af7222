"""Stored values to and from their API shapes, the same way in every service: timestamps,
etags (`v<version>`) and google.type.Money as exact decimals (never floats: sums of many
prices must not drift)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from google.protobuf import timestamp_pb2
from google.type import money_pb2

NANO = Decimal("0.000000001")


def timestamp(value: datetime | str) -> timestamp_pb2.Timestamp:
    """A Timestamp from a datetime, or from its ISO text (as json_agg renders it)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def etag(version: int) -> str:
    return f"v{version}"


def parse_etag(value: str) -> int | None:
    """The version an etag stands for; None when it is not one this API issued."""
    if value.startswith("v") and value[1:].isdigit():
        return int(value[1:])
    return None


def to_decimal(money: money_pb2.Money) -> Decimal:
    return Decimal(money.units) + Decimal(money.nanos) * NANO


def to_money(currency: str, amount: Decimal | str) -> money_pb2.Money:
    value = Decimal(amount).quantize(NANO, rounding=ROUND_HALF_EVEN)
    units = int(value)  # truncates toward zero, so units and nanos share the sign
    nanos = int((value - units) / NANO)
    return money_pb2.Money(currency_code=currency, units=units, nanos=nanos)
