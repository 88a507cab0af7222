"""The domain's enums are the contract's, number for number: the domain reads plain ints
off the wire (no protobuf in domain/), so a value added to a proto enum must be added here
too, or this test fails. The enums it shares with other services (servicekit.vocabulary:
Tier, ImportantDateKind, InteractionKind, Direction) are checked in
tests/servicekit/test_vocabulary.py."""

from __future__ import annotations

from enum import IntEnum

import pytest
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from atelier.common.v1 import common_pb2
from atelier.customer.v1 import customer_pb2, purchase_pb2, timeline_service_pb2
from atelier.events.v1 import associate_events_pb2
from services.customer.domain import (
    assignments,
    channels,
    consent,
    contacts,
    purchases,
    timeline,
)


@pytest.mark.parametrize(
    ("domain", "contract", "prefix"),
    [
        (contacts.ContactKind, customer_pb2.ContactKind, "CONTACT_KIND_"),
        (channels.Channel, common_pb2.Channel, "CHANNEL_"),
        (consent.Purpose, common_pb2.Purpose, "PURPOSE_"),
        (purchases.SalesChannel, purchase_pb2.SalesChannel, "SALES_CHANNEL_"),
        (timeline.EntryKind, timeline_service_pb2.TimelineEntryKind, "TIMELINE_ENTRY_KIND_"),
        (assignments.Role, associate_events_pb2.AssignmentRole, "ASSIGNMENT_ROLE_"),
    ],
    ids=lambda v: getattr(v, "__name__", "") if isinstance(v, type) else "",
)
def test_domain_enum_mirrors_the_contract(domain: type[IntEnum], contract: EnumTypeWrapper, prefix: str):
    assert {prefix + member.name: int(member) for member in domain} == dict(contract.items())
