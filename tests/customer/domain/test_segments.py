"""Segments: validation and the birthday window (services/customer/domain/segments.py), no database."""

from __future__ import annotations

from datetime import date

import pytest

from servicekit.errors import InvalidArgument
from services.customer.domain import segments


def test_birthday_window_wraps_the_year_and_greets_leaplings_on_the_28th():
    assert segments.birthday_days(date(2026, 12, 30), 3) == (1230, 1231, 101)
    assert 229 in segments.birthday_days(date(2027, 2, 27), 2)
    assert segments.birthday_days(date(2028, 2, 28), 1) == (228,)


def test_segment_validation_collects_every_field():
    with pytest.raises(InvalidArgument) as err:
        segments.parse(segments.SegmentInput(tiers=[99], birthday_within_days=-1), date.today())
    assert sorted(f for f, _ in err.value.violations) == ["segment.birthday_within_days", "segment.tiers[0]"]
