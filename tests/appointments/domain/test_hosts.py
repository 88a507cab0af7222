"""Who hosts a visit: the associate named (if free), her own associate (if qualified and
free), else the fairest free qualified associate of the store."""

from __future__ import annotations

from datetime import date

import pytest

from services.appointments.domain.hosts import (
    AssociateNotFree,
    HostChoice,
    Load,
    NoHostAvailable,
    Pick,
    choose,
    proposal_order,
    qualified,
)
from tests.appointments.support import (
    PARIS,
    availability,
    bookable,
    booking,
    host,
    local,
    store,
    utc,
    visit_type,
)


def test_the_requested_associate_when_free_else_a_typed_refusal():
    assert choose({"a-1", "a-2"}, {}, requested="a-2", own_associate="a-1") == Pick("a-2", HostChoice.REQUESTED)
    with pytest.raises(AssociateNotFree) as refused:
        choose({"a-1"}, {}, requested="a-2")
    assert refused.value.reason == "ASSOCIATE_NOT_FREE"
    assert refused.value.metadata == {"associate": "associates/a-2"}


def test_her_own_associate_first_when_free():
    loads = {"a-1": Load(bookings=5), "a-2": Load()}
    assert choose({"a-1", "a-2"}, loads, own_associate="a-1") == Pick("a-1", HostChoice.OWN_ASSOCIATE)


def test_then_the_least_loaded_then_the_longest_waiting_then_by_id():
    free = {"a-1", "a-2", "a-3"}
    assert choose(free, {"a-1": Load(3), "a-2": Load(1), "a-3": Load(2)}, own_associate="a-9").associate_id == "a-2"
    tied = {"a-1": Load(1, utc(2026, 5, 4, 9)), "a-2": Load(1, utc(2026, 5, 4, 8)), "a-3": Load(1, utc(2026, 5, 4, 10))}
    assert choose(free, tied) == Pick("a-2", HostChoice.STORE)
    # Never chosen yet comes before anyone chosen; ids break the last tie.
    assert choose(free, {"a-1": Load(1, utc(2026, 5, 4, 9))}).associate_id == "a-2"
    assert choose(free, {}).associate_id == "a-1"


def test_nobody_free_is_a_typed_refusal():
    with pytest.raises(NoHostAvailable) as refused:
        choose(set(), {}, own_associate="a-1")
    assert refused.value.reason == "NO_HOST_AVAILABLE"


def test_a_fair_choice_spreads_a_day_across_the_team():
    """Booking a day slot after slot, each time by the fair rule, never picks someone busy
    and hands the visits out evenly."""
    day = date(2026, 5, 4)
    team = [bookable(f"a-{i}") for i in range(1, 4)]
    taken: list = []
    loads: dict[str, Load] = {}
    for hour in (10, 11, 12, 13, 14, 15):
        start = local(PARIS, day, hour)
        free = availability(store(PARIS), visit_type(60), *team, busy=tuple(taken)).free_at(start)
        pick = choose(free, loads)
        assert pick.associate_id in free
        taken.append(booking(pick.associate_id, start))
        previous = loads.get(pick.associate_id, Load())
        loads[pick.associate_id] = Load(previous.bookings + 1, start)
    assert sorted(load.bookings for load in loads.values()) == [2, 2, 2]


def test_a_slot_proposes_her_own_associate_first():
    assert proposal_order({"a-1", "a-2", "a-3"}, {"a-3": Load(0), "a-1": Load(2)}, "a-1") == ["a-1", "a-2", "a-3"]
    assert proposal_order({"a-2", "a-3"}, {"a-2": Load(4)}, "a-1") == ["a-3", "a-2"]


def test_qualified_hosts():
    watches = visit_type(60, specialities=("watches", "high-jewellery"))
    assert qualified(host("a-1", "watches"), "s-1", watches)
    assert not qualified(host("a-1", "leather"), "s-1", watches)
    assert not qualified(host("a-1", "watches", active=False), "s-1", watches)
    assert not qualified(host("a-1", "watches", store_id="s-2"), "s-1", watches)
    assert qualified(host("a-1"), "s-1", visit_type(60))
