"""The caller gate's rule (servicekit.callers.check_standing) over this service's records
(domain.access.standing), without I/O: a member of staff is refused on every call once
she is no longer what her token says (audit item 7)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from servicekit.auth import Principal, Role
from servicekit.callers import Standing, check_standing
from servicekit.errors import PermissionDenied
from services.associate.domain import access
from services.associate.domain.staff import StaffRole, Status

ASSOCIATE = Principal("associates/a-1", Role.ASSOCIATE, associate_id="a-1", store="stores/paris")
MANAGER = Principal("associates/a-1", Role.MANAGER, associate_id="a-1", store="stores/paris")
HQ_WITH_ID = Principal("associates/a-1", Role.HQ, associate_id="a-1")


@dataclass(frozen=True)
class Record:
    store_id: str = "paris"
    role: int = StaffRole.ASSOCIATE
    status: int = Status.ACTIVE
    id: str = "a-1"


def check_caller(p: Principal, record: Record | None) -> None:
    check_standing(p, access.standing(record))


def reason(p: Principal, record: Record) -> str:
    with pytest.raises(PermissionDenied) as refused:
        check_caller(p, record)
    assert refused.value.metadata == {"associate": "associates/a-1"}
    return refused.value.reason


def test_an_active_member_of_her_store_passes():
    check_caller(ASSOCIATE, Record())
    check_caller(MANAGER, Record(role=StaffRole.MANAGER))
    check_caller(ASSOCIATE, Record(role=StaffRole.MANAGER))  # a manager with an associate's token
    check_caller(HQ_WITH_ID, Record(store_id="hq", role=StaffRole.HQ))


@pytest.mark.parametrize("status", [Status.ON_LEAVE, Status.DEPARTED])
def test_a_departed_or_suspended_member_of_staff_can_do_nothing(status):
    for p, role in ((ASSOCIATE, StaffRole.ASSOCIATE), (MANAGER, StaffRole.MANAGER), (HQ_WITH_ID, StaffRole.HQ)):
        assert reason(p, Record(role=role, status=status)) == "CALLER_INACTIVE"


def test_a_token_of_another_store_or_a_higher_role_is_refused():
    assert reason(ASSOCIATE, Record(store_id="milan")) == "CALLER_STORE_CHANGED"
    assert reason(MANAGER, Record(store_id="milan", role=StaffRole.MANAGER)) == "CALLER_STORE_CHANGED"
    assert reason(MANAGER, Record()) == "CALLER_ROLE_CHANGED"
    assert reason(HQ_WITH_ID, Record(role=StaffRole.MANAGER)) == "CALLER_ROLE_CHANGED"


def test_callers_without_a_record_or_an_associate_id_and_services_pass():
    check_caller(ASSOCIATE, None)
    check_caller(Principal("staff/hq", Role.HQ), Record(status=Status.DEPARTED))
    check_caller(Principal("services/x", Role.SERVICE, associate_id="a-1"), Record(status=Status.DEPARTED))


def test_a_record_is_the_gates_standing():
    assert access.standing(Record()) == Standing("stores/paris", Role.ASSOCIATE, "active")
    assert access.standing(Record(role=StaffRole.HQ, status=Status.ON_LEAVE)) == Standing(
        "stores/paris", Role.HQ, "on_leave"
    )
    assert access.standing(None) is None
