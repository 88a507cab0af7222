"""Who is credited with a purchase. Pure: facts in, (associate, basis) out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import IntEnum

DEFAULT_WINDOW_DAYS = 30
MAX_REASON = 1000


class Basis(IntEnum):
    """Why an associate is credited (the contract's AttributionBasis numbers, also stored)."""

    ASSISTING = 1
    PRIMARY = 2
    NONE = 3
    CORRECTED = 4


def window_from_env(environ: Mapping[str, str]) -> timedelta:
    """ATELIER_ATTRIBUTION_WINDOW_DAYS: how long after her last interaction a purchase is
    still credited to her primary associate."""
    raw = environ.get("ATELIER_ATTRIBUTION_WINDOW_DAYS", "").strip()
    if not raw:
        return timedelta(days=DEFAULT_WINDOW_DAYS)
    try:
        days = int(raw)
    except ValueError:
        raise ValueError(f"ATELIER_ATTRIBUTION_WINDOW_DAYS must be a whole number, got {raw!r}") from None
    if not 0 <= days <= 3650:
        raise ValueError(f"ATELIER_ATTRIBUTION_WINDOW_DAYS must be between 0 and 3650, got {days}")
    return timedelta(days=days)


def attribute(
    *, assisting: str, primary: str, last_interaction: datetime | None, order_time: datetime, window: timedelta
) -> tuple[str, Basis]:
    """The POS's assisting associate wins; else the primary associate when the customer's
    last interaction before the order is within the window; else nobody."""
    if assisting:
        return assisting, Basis.ASSISTING
    if primary and last_interaction is not None and order_time - window <= last_interaction <= order_time:
        return primary, Basis.PRIMARY
    return "", Basis.NONE


@dataclass(frozen=True)
class Sale:
    """A recorded purchase as attribution sees it: ids bare, `assisting_id` the associate
    the point of sale named ('' for none), the amount what the purchase is worth."""

    purchase: str
    customer_id: str
    order_id: str
    channel: int
    store_id: str
    assisting_id: str
    order_time: datetime
    currency: str
    amount: Decimal
    customer_created: bool
