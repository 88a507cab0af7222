"""Reading requests off the wire (services/customer/api/requests.py): every field reaches
the domain's values, unset optional parts stay None. Pure, no server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf import timestamp_pb2
from google.type import date_pb2, money_pb2

from atelier.common.v1 import common_pb2
from atelier.customer.v1 import (
    customer_pb2,
    customer_service_pb2,
    interaction_pb2,
    purchase_pb2,
    purchase_service_pb2,
    segment_pb2,
)
from servicekit.errors import InvalidArgument, Violations
from services.customer.api import requests
from services.customer.domain.money import Price
from services.customer.domain.profile import ContactPoint, ImportantDate, Preference, ProfileInput
from services.customer.domain.segments import LifetimeValueInput

WHEN = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)


def stamp(when: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(when)
    return out


def test_a_customer_profile_is_copied_field_by_field():
    msg = customer_pb2.Customer(
        given_name="Hélène",
        family_name="Laurent",
        preferred_name="Mme L",
        locale="fr-FR",
        home_store="stores/paris",
        tier=customer_pb2.TIER_VIP,
        contact_points=[customer_pb2.ContactPoint(kind=customer_pb2.CONTACT_KIND_PHONE, value="06", primary=True)],
        preferences=[customer_pb2.Preference(category="ring_size", value="52")],
        important_dates=[
            customer_pb2.ImportantDate(
                kind=customer_pb2.IMPORTANT_DATE_KIND_OTHER, date=date_pb2.Date(year=2010, month=6, day=12), label="x"
            )
        ],
        tags=["press"],
        referral_code="A-123",
    )
    assert requests.profile_input(msg) == ProfileInput(
        given_name="Hélène",
        family_name="Laurent",
        preferred_name="Mme L",
        locale="fr-FR",
        home_store="stores/paris",
        tier=3,
        contact_points=[ContactPoint(2, "06", True)],
        preferences=[Preference("ring_size", "52")],
        important_dates=[ImportantDate(3, 2010, 6, 12, "x")],
        tags=["press"],
        referral_code="A-123",
    )


def test_a_purchase_keeps_unset_prices_and_times_as_none():
    msg = purchase_pb2.Purchase(
        channel=purchase_pb2.SALES_CHANNEL_STORE,
        order_id="pos-1",
        lines=[
            purchase_pb2.PurchaseLine(sku="A", quantity=1, unit_price=money_pb2.Money(currency_code="EUR", units=5)),
            purchase_pb2.PurchaseLine(sku="B", quantity=2),
        ],
    )
    given = requests.purchase_input(msg)
    assert given.order_time is None
    assert [line.unit_price for line in given.lines] == [Price("EUR", 5, 0), None]
    msg.order_time.CopyFrom(stamp(WHEN))
    assert requests.purchase_input(msg).order_time == WHEN


def test_a_return_and_an_interaction_are_read_with_their_times():
    ret = purchase_service_pb2.RecordReturnRequest(
        return_id="r-1", lines=[purchase_pb2.ReturnLine(line_id="1", quantity=2)], return_time=stamp(WHEN)
    )
    given = requests.return_input(ret)
    assert (given.return_id, list(given.lines), given.return_time) == ("r-1", [("1", 2)], WHEN)
    msg = interaction_pb2.Interaction(
        kind=interaction_pb2.INTERACTION_KIND_MESSAGE,
        channel=common_pb2.CHANNEL_SMS,
        direction=interaction_pb2.DIRECTION_OUTBOUND,
        external_id="m-1",
    )
    read = requests.interaction_input(msg)
    assert (read.kind, read.channel, read.direction, read.external_id, read.occur_time) == (1, 2, 2, "m-1", None)


def test_a_segment_keeps_unset_parts_as_none():
    assert requests.segment_input(segment_pb2.Segment()).consent is None
    assert requests.segment_input(segment_pb2.Segment()).lifetime_value is None
    msg = segment_pb2.Segment(
        consent=segment_pb2.ConsentRequirement(channel=common_pb2.CHANNEL_EMAIL, purpose=common_pb2.PURPOSE_MARKETING),
        lifetime_value=segment_pb2.LifetimeValueRange(currency_code="EUR", min_units=0),
        preferences=[customer_pb2.Preference(category="colour", value="navy")],
    )
    given = requests.segment_input(msg)
    assert given.consent == (1, 1)
    assert given.lifetime_value == LifetimeValueInput("EUR", 0, None)
    assert given.preferences == [("colour", "navy")]


def test_resource_names_resolve_to_ids():
    assert requests.purchase_name("customers/c-123/purchases/p-456", "name") == ("c-123", "p-456")
    with pytest.raises(InvalidArgument):
        requests.purchase_name("customers/c-123", "name")
    violations = Violations()
    assert requests.customer_id("customers/c-123", "parent", violations) == "c-123"
    assert requests.customer_id("people/x", "parent", violations) == ""
    assert [f for f, _ in violations.items] == ["parent"]


class _Context:
    def __init__(self, metadata):
        self._metadata = metadata

    def invocation_metadata(self):
        return self._metadata


def test_a_read_is_audited_with_the_purpose_the_caller_gave_else_the_rpc():
    given = _Context((("x-atelier-purpose", "  client   asked\n"), ("other", "x")))
    assert requests.read_audit(given, "GetCustomer").purpose == "client asked"
    assert requests.read_audit(_Context(()), "GetCustomer").purpose == "GetCustomer"
    assert requests.read_audit(_Context((("x-atelier-purpose", "x" * 300),)), "A").purpose == "x" * 200


async def test_an_import_stream_keeps_one_import_id():
    async def stream(*ids):
        for n, import_id in enumerate(ids):
            yield customer_service_pb2.ImportCustomersRequest(
                import_id=import_id,
                batch_id=f"b-{n}",
                rows=[customer_service_pb2.ImportRow(row_number=1, customer=customer_pb2.Customer(given_name="M"))],
            )

    batches = [b async for b in requests.import_batches(stream("crm", "crm"))]
    assert [(b.import_id, b.batch_id, b.rows[0].customer.given_name) for b in batches] == [
        ("crm", "b-0", "M"),
        ("crm", "b-1", "M"),
    ]
    with pytest.raises(InvalidArgument) as refused:
        _ = [b async for b in requests.import_batches(stream("crm", "pos"))]
    assert [f for f, _ in refused.value.violations] == ["import_id"]
