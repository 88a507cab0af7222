"""The caller gate's rule (domain.access.check_caller), without I/O: a member of staff is
refused on every call once she is no longer what her token says (audit item 7)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from servicekit.auth import Principal, Role
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


def reason(p: Principal, record: Record) -> str:
    with pytest.raises(PermissionDenied) as refused:
        access.check_caller(p, record)
    assert refused.value.metadata == {"associate": "associates/a-1"}
    return refused.value.reason


def test_an_active_member_of_her_store_passes():
    access.check_caller(ASSOCIATE, Record())
    access.check_caller(MANAGER, Record(role=StaffRole.MANAGER))
    access.check_caller(ASSOCIATE, Record(role=StaffRole.MANAGER))  # a manager with an associate's token
    access.check_caller(HQ_WITH_ID, Record(store_id="hq", role=StaffRole.HQ))


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
    access.check_caller(ASSOCIATE, None)
    access.check_caller(Principal("staff/hq", Role.HQ), Record(status=Status.DEPARTED))
    access.check_caller(Principal("services/x", Role.SERVICE, associate_id="a-1"), Record(status=Status.DEPARTED))
