"""The domain's enums carry the contract's numbers (messages/ passes them through to the
generated messages, and the tables store them): every member matches the proto enum
value of the same name, and every proto value the service uses has a member. The enums it
shares with other services (servicekit.vocabulary) are checked in
tests/servicekit/test_vocabulary.py."""

from __future__ import annotations

from enum import IntEnum

import pytest

from atelier.associate.v1 import assignment_pb2, associate_pb2, performance_pb2, task_pb2
from atelier.events.v1 import associate_events_pb2 as ev
from services.associate.domain.assignment import Reason, Role
from services.associate.domain.attribution import Basis
from services.associate.domain.claims import ClaimState
from services.associate.domain.staff import StaffRole, Status
from services.associate.domain.tasks import TaskKind, TaskStatus


@pytest.mark.parametrize(
    "domain,contract,prefix",
    [
        (Role, ev.AssignmentRole, "ASSIGNMENT_ROLE_"),
        (Reason, ev.AssignmentReason, "ASSIGNMENT_REASON_"),
        (Basis, performance_pb2.AttributionBasis, "ATTRIBUTION_BASIS_"),
        (ClaimState, assignment_pb2.Claim.State, "STATE_"),
        (StaffRole, associate_pb2.StaffRole, "STAFF_ROLE_"),
        (Status, associate_pb2.AssociateStatus, "ASSOCIATE_STATUS_"),
        (TaskKind, task_pb2.TaskKind, "TASK_KIND_"),
        (TaskStatus, task_pb2.TaskStatus, "TASK_STATUS_"),
    ],
)
def test_domain_enums_match_the_contract(domain: type[IntEnum], contract, prefix: str):
    for member in domain:
        assert contract.Value(prefix + member.name) == member.value, member
    named = {v.name.removeprefix(prefix) for v in contract.DESCRIPTOR.values if v.number != 0}
    assert named == {m.name for m in domain if m.name != "UNSPECIFIED"}
