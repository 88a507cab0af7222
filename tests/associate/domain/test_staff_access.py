"""Who changes or departs a member of staff, without I/O."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from servicekit.auth import Principal, Role
from servicekit.errors import PermissionDenied
from services.associate.domain import access
from services.associate.domain.staff import SELF_SERVICE, StaffRole, Status

MANAGER = Principal("staff/m", Role.MANAGER, associate_id="m-1", store="stores/paris")
HQ = Principal("staff/hq", Role.HQ)


@dataclass(frozen=True)
class Member:
    id: str
    store_id: str = "paris"
    role: int = StaffRole.ASSOCIATE
    status: int = Status.ACTIVE


def update(p: Principal, member: Member, values: dict[str, object]) -> None:
    access.check_update_associate(p, member.id, member, set(values), values, SELF_SERVICE)


def test_a_manager_changes_the_associates_of_her_store():
    seller = Member("a-1")
    update(MANAGER, seller, {"status": Status.ON_LEAVE})
    update(MANAGER, seller, {"role": StaffRole.ASSOCIATE, "capacity": 40})
    access.check_depart(MANAGER, seller, "associates/a-1")


@pytest.mark.parametrize(
    "member",
    [
        Member("hq-1", role=StaffRole.HQ),  # headquarters staff whose record names her store
        Member("m-2", role=StaffRole.MANAGER),  # another manager of her store
        Member("m-1", role=StaffRole.MANAGER),  # herself, beyond her own profile
        Member("a-9", store_id="milan"),  # another store's associate
    ],
)
def test_a_manager_changes_no_manager_headquarters_staff_or_other_store(member):
    for values in ({"role": StaffRole.ASSOCIATE}, {"status": Status.ON_LEAVE}, {"capacity": 1}):
        with pytest.raises(PermissionDenied):
            update(MANAGER, member, values)
    with pytest.raises(PermissionDenied):
        access.check_depart(MANAGER, member, f"associates/{member.id}")
    update(HQ, member, {"status": Status.ON_LEAVE})
    access.check_depart(HQ, member, f"associates/{member.id}")


@pytest.mark.parametrize("role", [StaffRole.MANAGER, StaffRole.HQ])
def test_a_manager_raises_nobody(role):
    with pytest.raises(PermissionDenied):
        update(MANAGER, Member("a-1"), {"role": role})


def test_a_manager_moves_nobody_to_another_store():
    with pytest.raises(PermissionDenied):
        update(MANAGER, Member("a-1"), {"store_id": "milan"})
    update(MANAGER, Member("a-1"), {"store_id": "paris"})


def test_everyone_edits_her_own_profile():
    update(MANAGER, Member("m-1", role=StaffRole.MANAGER), {"display_name": "M", "languages": ["fr"]})
    seller = Principal("associates/a-1", Role.ASSOCIATE, associate_id="a-1", store="stores/paris")
    update(seller, Member("a-1"), {"languages": ["ja"]})
    with pytest.raises(PermissionDenied):
        update(seller, Member("a-1"), {"capacity": 9})


def test_a_manager_creates_associates_of_her_store_only():
    paris_manager = Principal(subject="staff/m", role=Role.MANAGER, associate_id="m", store="stores/paris")
    access.check_create_associate(paris_manager, "stores/paris", StaffRole.ASSOCIATE)
    for role in (StaffRole.MANAGER, StaffRole.HQ):
        with pytest.raises(PermissionDenied):
            access.check_create_associate(paris_manager, "stores/paris", role)
    with pytest.raises(PermissionDenied):
        access.check_create_associate(paris_manager, "stores/milan", StaffRole.ASSOCIATE)
    access.check_create_associate(Principal(subject="staff/hq", role=Role.HQ), "stores/paris", StaffRole.MANAGER)
