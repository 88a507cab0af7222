"""The wall clock: a period of a local date covers the instants whose local time falls in
it, across the spring and autumn switches of Europe/Paris and America/New_York, and in a
zone without daylight saving (Asia/Shanghai)."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.appointments.domain.wallclock import (
    DayPeriod,
    Span,
    day_start,
    grid,
    intersect,
    local_dates,
    merge,
    spans,
    subtract,
    union,
)
from tests.appointments.support import (
    NEW_YORK,
    NEW_YORK_AUTUMN,
    NEW_YORK_SPRING,
    PARIS,
    PARIS_AUTUMN,
    PARIS_SPRING,
    SHANGHAI,
    local,
    period,
    utc,
    wall,
)

OPEN = period("10:00", "19:00")


@pytest.mark.parametrize(
    ("zone", "day", "opens_utc", "closes_utc"),
    [
        (PARIS, PARIS_SPRING - timedelta(days=1), utc(2026, 3, 28, 9), utc(2026, 3, 28, 18)),  # CET, UTC+1
        (PARIS, PARIS_SPRING, utc(2026, 3, 29, 8), utc(2026, 3, 29, 17)),  # CEST from 02:00: UTC+2
        (PARIS, PARIS_AUTUMN - timedelta(days=1), utc(2026, 10, 24, 8), utc(2026, 10, 24, 17)),
        (PARIS, PARIS_AUTUMN, utc(2026, 10, 25, 9), utc(2026, 10, 25, 18)),  # back to CET at 03:00
        (NEW_YORK, NEW_YORK_SPRING - timedelta(days=1), utc(2026, 3, 7, 15), utc(2026, 3, 8, 0)),  # EST, UTC-5
        (NEW_YORK, NEW_YORK_SPRING, utc(2026, 3, 8, 14), utc(2026, 3, 8, 23)),  # EDT, UTC-4
        (NEW_YORK, NEW_YORK_AUTUMN, utc(2026, 11, 1, 15), utc(2026, 11, 2, 0)),  # EST again
        (SHANGHAI, PARIS_SPRING, utc(2026, 3, 29, 2), utc(2026, 3, 29, 11)),  # UTC+8, no DST
        (SHANGHAI, NEW_YORK_AUTUMN, utc(2026, 11, 1, 2), utc(2026, 11, 1, 11)),
    ],
)
def test_ten_to_seven_local_stays_ten_to_seven_local_on_switch_days(zone, day, opens_utc, closes_utc):
    assert spans(day, [OPEN], ZoneInfo(zone)) == [Span(opens_utc, closes_utc)]
    assert wall(opens_utc, zone)[11:16] == "10:00"
    assert wall(closes_utc, zone)[11:16] == "19:00"


def test_a_skipped_hour_covers_nothing():
    paris = ZoneInfo(PARIS)
    # 02:00-03:00 does not exist on 29 March 2026 in Paris.
    assert spans(PARIS_SPRING, [period("02:00", "03:00")], paris) == []
    assert spans(PARIS_SPRING, [period("02:15", "02:45")], paris) == []
    # A period starting in the gap starts when the clocks resume (03:00 CEST = 01:00 UTC).
    assert spans(PARIS_SPRING, [period("02:30", "04:00")], paris) == [Span(utc(2026, 3, 29, 1), utc(2026, 3, 29, 2))]
    # 01:00-04:00 that night lasts two real hours.
    (night,) = spans(PARIS_SPRING, [period("01:00", "04:00")], paris)
    assert night.end - night.start == timedelta(hours=2)
    # New York skips 02:00-03:00 on 8 March 2026.
    assert spans(NEW_YORK_SPRING, [period("02:00", "03:00")], ZoneInfo(NEW_YORK)) == []


def test_a_repeated_hour_is_covered_twice():
    paris = ZoneInfo(PARIS)
    # 01:00-04:00 on 25 October 2026 lasts four real hours (02:00-03:00 happens twice).
    (night,) = spans(PARIS_AUTUMN, [period("01:00", "04:00")], paris)
    assert (night.start, night.end) == (utc(2026, 10, 24, 23), utc(2026, 10, 25, 3))
    # A period ending in the repeated hour covers both runs up to 02:30: two spans.
    assert spans(PARIS_AUTUMN, [period("00:00", "02:30")], paris) == [
        Span(utc(2026, 10, 24, 22), utc(2026, 10, 25, 0, 30)),  # 00:00-02:30 CEST
        Span(utc(2026, 10, 25, 1), utc(2026, 10, 25, 1, 30)),  # 02:00-02:30 CET
    ]
    # New York repeats 01:00-02:00 on 1 November 2026.
    (repeat,) = spans(NEW_YORK_AUTUMN, [period("01:00", "02:00")], ZoneInfo(NEW_YORK))
    assert repeat.end - repeat.start == timedelta(hours=2)


def test_grid_skips_times_that_do_not_exist_and_repeats_times_that_happen_twice():
    paris = ZoneInfo(PARIS)
    (spring,) = spans(PARIS_SPRING, [period("00:00", "05:00")], paris)
    assert [wall(t, PARIS)[11:] for t in grid(spring, 60, paris)] == [
        "00:00 +0100",
        "01:00 +0100",
        "03:00 +0200",
        "04:00 +0200",
    ]
    (autumn,) = spans(PARIS_AUTUMN, [period("01:00", "04:00")], paris)
    assert [wall(t, PARIS)[11:] for t in grid(autumn, 30, paris)] == [
        "01:00 +0200",
        "01:30 +0200",
        "02:00 +0200",
        "02:30 +0200",
        "02:00 +0100",
        "02:30 +0100",
        "03:00 +0100",
        "03:30 +0100",
    ]


def test_grid_is_on_the_wall_clock_not_on_the_span_start():
    shanghai = ZoneInfo(SHANGHAI)
    span = Span(local(SHANGHAI, date(2026, 5, 4), 10, 10), local(SHANGHAI, date(2026, 5, 4), 12, 0))
    assert [wall(t, SHANGHAI)[11:16] for t in grid(span, 20, shanghai)] == ["10:20", "10:40", "11:00", "11:20", "11:40"]
    with pytest.raises(ValueError, match="do not divide a day"):
        grid(span, 7, shanghai)


def test_grid_in_a_zone_with_a_half_hour_offset():
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+05:30
    (day,) = spans(date(2026, 5, 4), [period("10:00", "12:00")], kolkata)
    assert [t.astimezone(kolkata).strftime("%H:%M") for t in grid(day, 60, kolkata)] == ["10:00", "11:00"]
    assert day.start == utc(2026, 5, 4, 4, 30)


def test_period_arithmetic():
    assert union([period("12:00", "14:00"), period("10:00", "12:00"), period("13:00", "15:00")]) == (
        period("10:00", "15:00"),
    )
    assert intersect([period("09:00", "13:00"), period("14:00", "20:00")], [period("10:00", "19:00")]) == (
        period("10:00", "13:00"),
        period("14:00", "19:00"),
    )
    assert subtract([period("10:00", "19:00")], [period("12:00", "13:00"), period("18:00", "24:00")]) == (
        period("10:00", "12:00"),
        period("13:00", "18:00"),
    )
    assert subtract([period("10:00", "12:00")], [period("09:00", "13:00")]) == ()
    with pytest.raises(ValueError):
        DayPeriod(600, 600)
    with pytest.raises(ValueError):
        DayPeriod(0, 1441)


def test_spans_merge():
    a = [Span(utc(2026, 1, 1, 12), utc(2026, 1, 1, 13)), Span(utc(2026, 1, 1, 9), utc(2026, 1, 1, 12))]
    assert merge(a) == [Span(utc(2026, 1, 1, 9), utc(2026, 1, 1, 13))]
    apart = [Span(utc(2026, 1, 1, 9), utc(2026, 1, 1, 10)), Span(utc(2026, 1, 1, 11), utc(2026, 1, 1, 12))]
    assert merge(apart) == apart
    assert apart[0].overlaps(Span(utc(2026, 1, 1, 9, 30), utc(2026, 1, 1, 11)))
    assert not apart[0].overlaps(apart[1])
    assert Span(utc(2026, 1, 1, 8), utc(2026, 1, 1, 12)).contains(apart[0])


def test_local_dates_and_day_starts():
    shanghai = ZoneInfo(SHANGHAI)
    # 20:00 UTC on 1 May is 04:00 on 2 May in Shanghai.
    assert local_dates(utc(2026, 5, 1, 20), utc(2026, 5, 3, 16), shanghai) == [date(2026, 5, 2), date(2026, 5, 3)]
    assert local_dates(utc(2026, 5, 1), utc(2026, 5, 1), shanghai) == []
    assert day_start(date(2026, 5, 2), shanghai) == utc(2026, 5, 1, 16)
    # Havana skips midnight when it springs forward (00:00 → 01:00, 8 March 2026).
    havana = ZoneInfo("America/Havana")
    assert wall(day_start(date(2026, 3, 8), havana), "America/Havana")[11:] == "01:00 -0400"
