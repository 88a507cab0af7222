"""Who is credited with a purchase. Pure: facts in, (associate, basis) out."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timedelta

from atelier.associate.v1 import performance_pb2

Basis = performance_pb2.AttributionBasis

DEFAULT_WINDOW_DAYS = 30

BASIS_WORDS = {
    Basis.ATTRIBUTION_BASIS_ASSISTING: "assisting",
    Basis.ATTRIBUTION_BASIS_PRIMARY: "primary",
    Basis.ATTRIBUTION_BASIS_NONE: "none",
    Basis.ATTRIBUTION_BASIS_CORRECTED: "corrected",
}


def window_from_env(environ: Mapping[str, str] = os.environ) -> timedelta:
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
    *,
    assisting: str,
    primary: str,
    last_interaction: datetime | None,
    order_time: datetime,
    window: timedelta,
) -> tuple[str, int]:
    """The POS's assisting associate wins; else the primary associate when the customer's
    last interaction before the order is within the window; else nobody."""
    if assisting:
        return assisting, Basis.ATTRIBUTION_BASIS_ASSISTING
    if primary and last_interaction is not None and order_time - window <= last_interaction <= order_time:
        return primary, Basis.ATTRIBUTION_BASIS_PRIMARY
    return "", Basis.ATTRIBUTION_BASIS_NONE
