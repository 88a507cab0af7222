"""Reporting periods of figures and the attribution ledger."""

from __future__ import annotations

from datetime import datetime, timedelta

MAX_PERIOD = timedelta(days=3 * 366)


def period_problem(start: datetime, end: datetime) -> str | None:
    """What is wrong with a period (a violation of end_time), None when it is fine."""
    if end <= start:
        return "must be after start_time"
    if end - start > MAX_PERIOD:
        return "a period spans at most 3 years"
    return None
