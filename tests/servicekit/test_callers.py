"""The caller gate's rule and mechanism (servicekit.callers), without I/O: one rule for
every service (audit item 7), a standing looked up at most once per ttl per associate.
How each service looks a standing up, and the gate over gRPC, are tested with the
service (tests/<service>/api/test_caller_gate.py); the runtime's hook in
test_caller_gate.py."""

from __future__ import annotations

import pytest

from servicekit.auth import SYSTEM, Principal, Role
from servicekit.callers import CallerGate, Standing, check_standing
from servicekit.errors import PermissionDenied

PARIS, MILAN = "stores/paris", "stores/milan"
ASSOCIATE = Principal("associates/a-1", Role.ASSOCIATE, associate_id="a-1", store=PARIS)
MANAGER = Principal("associates/a-1", Role.MANAGER, associate_id="a-1", store=PARIS)
HQ_WITH_ID = Principal("associates/a-1", Role.HQ, associate_id="a-1")
HQ = Principal("staff/hq", Role.HQ)


def standing(store: str = PARIS, role: Role | None = Role.ASSOCIATE, status: str = "active") -> Standing:
    return Standing(store, role, status)


def reason(caller: Principal, found: Standing) -> str:
    with pytest.raises(PermissionDenied) as refused:
        check_standing(caller, found)
    assert refused.value.metadata == {"associate": "associates/a-1"}
    return refused.value.reason


# -- the rule ---------------------------------------------------------------------------


def test_an_active_member_of_the_tokens_store_holding_its_role_passes():
    check_standing(ASSOCIATE, standing())
    check_standing(MANAGER, standing(role=Role.MANAGER))
    check_standing(ASSOCIATE, standing(role=Role.MANAGER))  # a manager with an associate's token
    check_standing(MANAGER, standing(role=Role.HQ))  # a lesser role's token still works
    check_standing(HQ_WITH_ID, standing(store="", role=Role.HQ))


@pytest.mark.parametrize("status", ["on_leave", "departed"])
def test_a_departed_or_suspended_member_of_staff_can_do_nothing(status):
    for caller, role in ((ASSOCIATE, Role.ASSOCIATE), (MANAGER, Role.MANAGER), (HQ_WITH_ID, Role.HQ)):
        assert reason(caller, standing(role=role, status=status)) == "CALLER_INACTIVE"


def test_a_token_of_another_store_or_a_role_she_no_longer_holds_is_refused():
    assert reason(ASSOCIATE, standing(store=MILAN)) == "CALLER_STORE_CHANGED"
    assert reason(MANAGER, standing(store=MILAN, role=Role.MANAGER)) == "CALLER_STORE_CHANGED"
    assert reason(MANAGER, standing()) == "CALLER_ROLE_CHANGED"
    assert reason(HQ_WITH_ID, standing(role=Role.MANAGER)) == "CALLER_ROLE_CHANGED"
    assert reason(HQ_WITH_ID, standing(role=Role.ASSOCIATE)) == "CALLER_ROLE_CHANGED"
    # A role the platform does not know is no staff role at all.
    assert reason(ASSOCIATE, standing(role=None)) == "CALLER_ROLE_CHANGED"


def test_callers_without_a_standing_or_an_associate_id_and_services_pass():
    check_standing(ASSOCIATE, None)
    check_standing(HQ, standing(status="departed"))
    check_standing(Principal("services/x", Role.SERVICE, associate_id="a-1"), standing(status="departed"))
    check_standing(SYSTEM, standing(store="", role=None, status=""))


# -- the gate: a short cache over the service's lookup -------------------------------------


class Directory:
    """A service's standings, counting the lookups."""

    def __init__(self) -> None:
        self.standings: dict[str, Standing] = {}
        self.lookups: list[str] = []

    async def lookup(self, associate_id: str) -> Standing | None:
        self.lookups.append(associate_id)
        return self.standings.get(associate_id)


async def test_a_standing_is_looked_up_once_per_ttl_and_a_change_shows_after_it():
    directory, now = Directory(), [100.0]
    directory.standings["a-1"] = standing()
    gate = CallerGate(directory.lookup, ttl=1.0, clock=lambda: now[0])
    await gate(ASSOCIATE)
    directory.standings["a-1"] = standing(status="departed")
    now[0] += 0.9
    await gate(ASSOCIATE)  # still the cached standing
    assert directory.lookups == ["a-1"]
    now[0] += 0.2
    with pytest.raises(PermissionDenied) as refused:
        await gate(ASSOCIATE)
    assert refused.value.reason == "CALLER_INACTIVE"
    assert directory.lookups == ["a-1", "a-1"]


async def test_an_unknown_id_passes_and_is_cached_as_unknown_for_as_long():
    directory, now = Directory(), [0.0]
    gate = CallerGate(directory.lookup, ttl=1.0, clock=lambda: now[0])
    await gate(ASSOCIATE)
    directory.standings["a-1"] = standing(status="departed")
    await gate(ASSOCIATE)  # not known a moment ago: still let through
    assert await gate.standing("a-1") is None
    now[0] += 1.0
    assert await gate.standing("a-1") == standing(status="departed")
    assert directory.lookups == ["a-1", "a-1"]


async def test_callers_without_an_associate_id_and_services_cost_no_lookup():
    directory = Directory()
    gate = CallerGate(directory.lookup)
    await gate(HQ)
    await gate(Principal("services/x", Role.SERVICE, associate_id="a-1"))
    assert directory.lookups == []


async def test_the_cache_keeps_at_most_max_entries_dropping_expired_ones_first():
    directory, now = Directory(), [0.0]
    gate = CallerGate(directory.lookup, ttl=1.0, max_entries=2, clock=lambda: now[0])
    await gate.standing("a-1")  # until 1.0
    now[0] = 0.5
    await gate.standing("a-2")  # until 1.5
    now[0] = 1.2
    await gate.standing("a-3")  # full: the expired a-1 goes
    await gate.standing("a-2")  # kept
    assert directory.lookups == ["a-1", "a-2", "a-3"]
    now[0] = 1.3
    await gate.standing("a-4")  # full of live entries: all go
    await gate.standing("a-2")
    assert directory.lookups == ["a-1", "a-2", "a-3", "a-4", "a-2"]


def test_the_ttl_is_at_most_max_ttl():
    async def lookup(associate_id: str) -> Standing | None:
        return None

    CallerGate(lookup, ttl=CallerGate.MAX_TTL)
    CallerGate(lookup, ttl=0)
    for ttl in (2.5, 3.0, -1.0):
        with pytest.raises(ValueError):
            CallerGate(lookup, ttl=ttl)
