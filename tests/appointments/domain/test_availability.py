"""Available slots: on the store's wall clock across daylight-saving switches, within the
store's opening hours and the associate's schedule, clear of bookings and their buffers,
after the lead time and within the horizon; checked against a brute-force oracle."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.appointments.domain.availability import Availability, NotOffered
from services.appointments.domain.schedules import ExceptionKind, ScheduleException
from services.appointments.domain.wallclock import DayPeriod
from tests.appointments.support import (
    NEW_YORK,
    NEW_YORK_AUTUMN,
    NEW_YORK_SPRING,
    PARIS,
    PARIS_AUTUMN,
    PARIS_SPRING,
    SHANGHAI,
    availability,
    bookable,
    booking,
    local,
    period,
    store,
    utc,
    visit_type,
    wall,
)

ALL_DAY = period("00:00", "24:00")


def day_window(zone: str, day: date) -> tuple[datetime, datetime]:
    return local(zone, day, 0), local(zone, day + timedelta(days=1), 0)


def walls(slots, zone: str) -> list[str]:
    return [wall(s.start, zone)[11:16] for s in slots]


# -- daylight saving ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        (PARIS, PARIS_SPRING),
        (PARIS, PARIS_AUTUMN),
        (NEW_YORK, NEW_YORK_SPRING),
        (NEW_YORK, NEW_YORK_AUTUMN),
        (SHANGHAI, PARIS_SPRING),
        (SHANGHAI, NEW_YORK_AUTUMN),
    ],
)
@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_slots_are_ten_to_six_local_the_day_before_of_and_after_each_switch(zone, day, offset):
    day += timedelta(days=offset)
    found = availability(store(zone), visit_type(60), bookable("a-1")).slots(*day_window(zone, day))
    expected = [f"{h:02d}:{m:02d}" for h in range(10, 19) for m in (0, 30)][:-1]  # 10:00 … 18:00
    assert walls(found, zone) == expected
    assert all(s.end - s.start == timedelta(hours=1) for s in found)
    assert found[0].start == local(zone, day, 10)


def test_booking_across_the_paris_spring_switch():
    # Saturday 10:00 is 09:00 UTC (CET); Sunday 10:00 is 08:00 UTC (CEST).
    saturday, sunday = PARIS_SPRING - timedelta(days=1), PARIS_SPRING
    assert local(PARIS, saturday, 10) == utc(2026, 3, 28, 9)
    assert local(PARIS, sunday, 10) == utc(2026, 3, 29, 8)
    booked = (booking("a-1", utc(2026, 3, 28, 9)), booking("a-1", utc(2026, 3, 29, 8)))
    where = availability(store(PARIS), visit_type(60), bookable("a-1"), busy=booked)
    for day in (saturday, sunday):
        assert walls(where.slots(*day_window(PARIS, day)), PARIS)[:2] == ["11:00", "11:30"]
    # The Saturday booking (09:00 UTC) says nothing about Sunday 11:00 local (09:00 UTC).
    assert where.free_at(utc(2026, 3, 29, 9)) == ("a-1",)


def test_booking_across_the_new_york_autumn_switch():
    saturday, sunday = NEW_YORK_AUTUMN - timedelta(days=1), NEW_YORK_AUTUMN
    assert local(NEW_YORK, saturday, 10) == utc(2026, 10, 31, 14)  # EDT
    assert local(NEW_YORK, sunday, 10) == utc(2026, 11, 1, 15)  # EST
    where = availability(store(NEW_YORK), visit_type(60), bookable("a-1"), busy=(booking("a-1", utc(2026, 11, 1, 15)),))
    assert walls(where.slots(*day_window(NEW_YORK, sunday)), NEW_YORK)[:1] == ["11:00"]
    assert walls(where.slots(*day_window(NEW_YORK, saturday)), NEW_YORK)[:1] == ["10:00"]


def test_a_store_open_through_the_night_offers_each_occurrence_of_a_repeated_time():
    where = availability(store(PARIS, (ALL_DAY,)), visit_type(30, step=60), bookable("a-1", hours=(ALL_DAY,)))
    found = where.slots(local(PARIS, PARIS_AUTUMN, 1), local(PARIS, PARIS_AUTUMN, 4))
    assert [wall(s.start, PARIS)[11:] for s in found] == ["01:00 +0200", "02:00 +0200", "02:00 +0100", "03:00 +0100"]
    # Booking the first 02:00 leaves the second one free: they are an hour apart.
    first_two = local(PARIS, PARIS_AUTUMN, 2, fold=0)
    second_two = local(PARIS, PARIS_AUTUMN, 2, fold=1)
    assert second_two - first_two == timedelta(hours=1)
    taken = availability(
        store(PARIS, (ALL_DAY,)),
        visit_type(30, step=60),
        bookable("a-1", hours=(ALL_DAY,)),
        busy=(booking("a-1", first_two, minutes=30),),
    )
    assert taken.free_at(first_two) == ()
    assert taken.free_at(second_two) == ("a-1",)


def test_a_visit_spanning_the_spring_gap_lasts_its_real_duration():
    where = availability(store(PARIS, (ALL_DAY,)), visit_type(90, step=30), bookable("a-1", hours=(ALL_DAY,)))
    found = where.slots(local(PARIS, PARIS_SPRING, 1, 30), local(PARIS, PARIS_SPRING, 1, 31))
    (slot,) = found
    assert wall(slot.start, PARIS)[11:] == "01:30 +0100"
    assert wall(slot.end, PARIS)[11:] == "04:00 +0200"  # 90 real minutes later
    # No slot starts at 02:00 or 02:30: those times do not exist that night.
    night = where.slots(local(PARIS, PARIS_SPRING, 1), local(PARIS, PARIS_SPRING, 4))
    assert walls(night, PARIS) == ["01:00", "01:30", "03:00", "03:30"]


def test_slots_for_a_client_in_another_time_zone_cover_her_day():
    # A client in Shanghai asks for her 29 March: 16:00 UTC on 28 March to 16:00 UTC on 29 March.
    start, end = day_window(SHANGHAI, PARIS_SPRING)
    found = availability(store(PARIS), visit_type(60), bookable("a-1")).slots(start, end)
    shown = [wall(s.start, SHANGHAI)[5:16] for s in found]
    # Paris Saturday 17:00-18:00 CET is 00:00-01:00 on Sunday in Shanghai; Paris Sunday
    # 10:00 CEST is 16:00 in Shanghai, and 18:00 CEST already her Monday.
    assert shown[:4] == ["03-29 00:00", "03-29 00:30", "03-29 01:00", "03-29 16:00"]
    assert shown[-1] == "03-29 23:30"
    assert len(shown) == 3 + 16
    assert all(start <= s.start < end for s in found)


# -- hours, schedules, bookings, buffers -------------------------------------------


def test_never_outside_the_store_hours_even_when_the_associate_works_longer():
    where = availability(store(PARIS), visit_type(60), bookable("a-1", hours=(period("08:00", "22:00"),)))
    found = where.slots(*day_window(PARIS, date(2026, 5, 4)))
    assert walls(found, PARIS)[0] == "10:00"
    assert walls(found, PARIS)[-1] == "18:00"


def test_store_exceptions_close_a_day_or_change_its_hours():
    hours = store(PARIS, d2026_12_25=(), d2026_12_24=(period("10:00", "14:00"),))
    where = availability(hours, visit_type(60), bookable("a-1"))
    assert where.slots(*day_window(PARIS, date(2026, 12, 25))) == []
    assert walls(where.slots(*day_window(PARIS, date(2026, 12, 24))), PARIS)[-1] == "13:00"


def test_lunch_breaks_split_the_day():
    hours = (period("10:00", "13:00"), period("14:00", "19:00"))
    found = availability(store(PARIS), visit_type(60), bookable("a-1", hours=hours)).slots(
        *day_window(PARIS, date(2026, 5, 4))
    )
    assert "12:00" in walls(found, PARIS)
    assert "12:30" not in walls(found, PARIS)
    assert "13:00" not in walls(found, PARIS)
    assert "14:00" in walls(found, PARIS)


def test_schedule_exceptions_leave_training_and_other_hours():
    day = date(2026, 5, 4)
    leave = ScheduleException(ExceptionKind.UNAVAILABLE, day, day + timedelta(days=6))
    training = ScheduleException(ExceptionKind.UNAVAILABLE, day, day, period("14:00", "16:00"))
    late = ScheduleException(ExceptionKind.AVAILABLE, day, day, period("12:00", "21:00"))
    hours = store(PARIS, d2026_05_04=(period("10:00", "21:00"),))
    on_leave = availability(hours, visit_type(60), bookable("a-1", exceptions=(leave,)))
    assert on_leave.slots(*day_window(PARIS, day + timedelta(days=3))) == []
    assert on_leave.slots(*day_window(PARIS, day + timedelta(days=7)))
    trained = availability(hours, visit_type(60), bookable("a-1", exceptions=(late, training)))
    found = walls(trained.slots(*day_window(PARIS, day)), PARIS)
    assert found[0] == "12:00"
    assert "13:00" in found and "13:30" not in found and "15:30" not in found and "16:00" in found
    assert found[-1] == "20:00"


def test_bookings_and_their_buffers_keep_visits_apart():
    day = date(2026, 5, 4)
    kind = visit_type(60, before=15, after=15)
    # Her 11:00-12:00 visit holds 10:45-12:15.
    busy = (booking("a-1", local(PARIS, day, 11), before=15, after=15),)
    found = walls(availability(store(PARIS), kind, bookable("a-1"), busy=busy).slots(*day_window(PARIS, day)), PARIS)
    # 10:00 would hold until 11:15; 12:00 from 11:45: both overlap. 12:30 holds from 12:15: touching is fine.
    assert found[:2] == ["12:30", "13:00"]
    # Buffers may fall outside opening hours: 10:00 is offered on a free day (held from 09:45),
    # so is 18:00 (held until 19:15).
    free_day = walls(availability(store(PARIS), kind, bookable("a-1")).slots(*day_window(PARIS, day)), PARIS)
    assert free_day[0] == "10:00" and free_day[-1] == "18:00"


def test_the_buffers_of_both_bookings_count():
    day = date(2026, 5, 4)
    # A 14:00 visit of another type with 30 minutes before it: held from 13:30.
    busy = (booking("a-1", local(PARIS, day, 14), before=30),)
    found = walls(
        availability(store(PARIS), visit_type(60, after=10), bookable("a-1"), busy=busy).slots(*day_window(PARIS, day)),
        PARIS,
    )
    assert "12:00" in found  # held 12:00-13:10
    assert "12:30" not in found  # held until 13:40
    assert "15:00" in found


def test_other_associates_bookings_do_not_matter():
    day = date(2026, 5, 4)
    busy = (booking("a-2", local(PARIS, day, 10)),)
    where = availability(store(PARIS), visit_type(60), bookable("a-1"), bookable("a-2"), busy=busy)
    (first, *_) = where.slots(*day_window(PARIS, day))
    assert first.associates == ("a-1",)
    assert where.free_at(local(PARIS, day, 11)) == ("a-1", "a-2")


def test_lead_time_and_horizon():
    day = date(2026, 5, 4)
    now = local(PARIS, day, 9, 50)
    kind = visit_type(60, lead=timedelta(hours=2), horizon=timedelta(days=2))
    where = availability(store(PARIS), kind, bookable("a-1"), now=now)
    assert walls(where.slots(*day_window(PARIS, day)), PARIS)[0] == "12:00"  # 11:50 is off the grid
    assert where.slots(*day_window(PARIS, day + timedelta(days=3))) == []
    last_day = walls(where.slots(*day_window(PARIS, day + timedelta(days=2))), PARIS)
    assert last_day == []  # the horizon ends at 09:50 that day, before the store opens
    wide = availability(store(PARIS, (ALL_DAY,)), kind, bookable("a-1", hours=(ALL_DAY,)), now=now)
    late = wide.slots(now + timedelta(days=1, hours=23), now + timedelta(days=3))
    assert [s.start for s in late][-1] == local(PARIS, day + timedelta(days=2), 9, 30)  # ≤ now + horizon


def test_specialities_activity_and_store_decide_who_may_host():
    kind = visit_type(60, specialities=("watches",))
    where = availability(
        store(PARIS),
        kind,
        bookable("a-1", "watches"),
        bookable("a-2", "leather"),
        bookable("a-3", "watches", active=False),
        bookable("a-4"),
    )
    slots = where.slots(*day_window(PARIS, date(2026, 5, 4)))
    assert {s.associates for s in slots} == {("a-1",)}
    anyone = availability(store(PARIS), visit_type(60), bookable("a-1", "watches"), bookable("a-4"))
    assert anyone.free_at(local(PARIS, date(2026, 5, 4), 10)) == ("a-1", "a-4")


def test_a_type_not_offered_in_the_store_has_no_slots():
    for kind in (visit_type(60, archived=True), visit_type(60, stores=("s-9",))):
        where = availability(store(PARIS), kind, bookable("a-1"))
        assert where.slots(*day_window(PARIS, date(2026, 5, 4))) == []
        with pytest.raises(NotOffered) as refused:
            where.check_offered()
        assert refused.value.reason == "APPOINTMENT_TYPE_NOT_OFFERED"
    availability(store(PARIS), visit_type(60, stores=("s-1",)), bookable("a-1")).check_offered()


def test_free_at_only_exact_slot_starts():
    where = availability(store(PARIS), visit_type(60), bookable("a-1"))
    day = date(2026, 5, 4)
    assert where.free_at(local(PARIS, day, 10)) == ("a-1",)
    assert where.free_at(local(PARIS, day, 10, 10)) == ()  # off the grid
    assert where.free_at(local(PARIS, day, 18, 30)) == ()  # would end after closing
    assert where.free_at(local(PARIS, day, 10), only="a-2") == ()


def test_next_free_suggests_the_following_starts_of_the_associate():
    day = date(2026, 5, 4)
    busy = (booking("a-1", local(PARIS, day, 10)), booking("a-1", local(PARIS, day, 11)))
    where = availability(store(PARIS), visit_type(60), bookable("a-1"), bookable("a-2"), busy=busy)
    assert where.next_free(local(PARIS, day, 10), 2, only="a-1") == [local(PARIS, day, 12), local(PARIS, day, 12, 30)]
    assert where.next_free(local(PARIS, day, 10), 1) == [local(PARIS, day, 10, 30)]  # a-2 is free


def test_a_rescheduled_booking_does_not_block_itself():
    day = date(2026, 5, 4)
    mine = booking("a-1", local(PARIS, day, 10))
    mine = type(mine)(mine.associate_id, mine.span, booking_id="b-1")
    where = availability(store(PARIS), visit_type(60), bookable("a-1"), busy=(mine,))
    assert where.free_at(local(PARIS, day, 10, 30)) == ()
    moving = Availability(where.store, where.appointment_type, where.candidates, where.busy, where.now, ignoring="b-1")
    assert moving.free_at(local(PARIS, day, 10, 30)) == ("a-1",)


def test_slots_are_limited_and_come_soonest_first():
    where = availability(store(SHANGHAI), visit_type(30), bookable("a-1"), bookable("a-2"))
    start, end = local(SHANGHAI, date(2026, 5, 4), 0), local(SHANGHAI, date(2026, 5, 18), 0)
    everything = where.slots(start, end)
    page = where.slots(start, end, limit=25)
    assert page == everything[:25]
    assert [s.start for s in everything] == sorted(s.start for s in everything)
    assert len(everything) == 14 * 18


# -- the oracle ----------------------------------------------------------------------


def _oracle(zone_name, store_periods, own_periods, kind, busy, start, end):
    """Every 5 minutes of [start, end): a start on the wall-clock grid whose visit's every
    minute has a wall time within both the store's and her periods of its local date, and
    whose held time meets no booking's held time."""
    zone = ZoneInfo(zone_name)
    step = timedelta(minutes=5)

    def inside(instant):
        wall_time = instant.astimezone(zone)
        minute = wall_time.hour * 60 + wall_time.minute
        return any(p.start <= minute < p.end for p in store_periods) and any(
            p.start <= minute < p.end for p in own_periods
        )

    found = []
    t = start
    while t < end:
        wall_time = t.astimezone(zone)
        on_grid = (wall_time.hour * 60 + wall_time.minute) % kind.slot_minutes == 0 and wall_time.second == 0
        minutes = int(kind.duration / timedelta(minutes=1))
        within = all(inside(t + timedelta(minutes=m)) for m in range(minutes))
        held_from, held_to = t - kind.buffer_before, t + kind.duration + kind.buffer_after
        clear = all(b.span.end <= held_from or held_to <= b.span.start for b in busy)
        if on_grid and within and clear:
            found.append(t)
        t += step
    return found


@pytest.mark.parametrize(
    ("zone", "day"),
    [(PARIS, PARIS_SPRING), (PARIS, PARIS_AUTUMN), (NEW_YORK, NEW_YORK_SPRING), (NEW_YORK, NEW_YORK_AUTUMN)],
)
@pytest.mark.parametrize("seed", range(6))
def test_slots_match_a_brute_force_oracle_around_the_switches(zone, day, seed):
    rng = random.Random(f"{zone}{day}{seed}")

    # Hours reaching into the night of the switch, and a day with a break.
    store_periods = (DayPeriod(rng.randrange(0, 4 * 60, 15), rng.randrange(20 * 60, 24 * 60 + 1, 15)),)
    own_periods = (
        DayPeriod(rng.randrange(0, 3 * 60, 15), rng.randrange(3 * 60, 6 * 60, 15)),
        DayPeriod(rng.randrange(8 * 60, 12 * 60, 15), rng.randrange(14 * 60, 24 * 60 + 1, 15)),
    )
    kind = visit_type(
        rng.choice([30, 45, 60, 90]),
        before=rng.choice([0, 10, 15]),
        after=rng.choice([0, 5, 30]),
        step=rng.choice([15, 30, 60]),
    )
    start, end = local(zone, day, 0), local(zone, day + timedelta(days=1), 0)
    busy = tuple(
        booking("a-1", start + timedelta(minutes=rng.randrange(0, 24 * 60, 5)), minutes=30, before=5, after=5)
        for _ in range(3)
    )
    busy = tuple(b for i, b in enumerate(busy) if all(not b.span.overlaps(o.span) for o in busy[:i]))
    hours = dict.fromkeys(range(1, 8), store_periods)
    where = availability(type(store(zone))("s-1", zone, hours), kind, bookable("a-1", hours=own_periods), busy=busy)
    got = [s.start for s in where.slots(start, end)]
    assert got
    assert got == _oracle(zone, store_periods, own_periods, kind, busy, start, end)


def test_a_slot_offered_is_the_time_its_booking_will_hold():
    day = date(2026, 5, 4)
    kind = visit_type(45, before=10, after=20)
    (slot, *_) = availability(store(PARIS), kind, bookable("a-1")).slots(*day_window(PARIS, day))
    assert slot.end - slot.start == timedelta(minutes=45)
    assert time(10) == slot.start.astimezone(ZoneInfo(PARIS)).time()
