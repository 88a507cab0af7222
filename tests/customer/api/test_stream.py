"""StreamCustomers: a large imported segment streamed whole, and each criterion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf import timestamp_pb2

from atelier.common.v1 import common_pb2
from atelier.customer.v1 import customer_pb2, segment_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from services.customer.domain import consent
from tests.conftest import associate, hq, manager
from tests.customer.support import (
    TIMEOUT,
    bad_fields,
    connect,
    create,
    error_info,
    import_batches,
    known_store,
    md,
    row,
    rpc_error,
    stream,
    uid,
)

SIZE = 20_000


def _rows(store: str, today: datetime):
    for i in range(SIZE):
        r = row(
            i + 1,
            given_name=f"Big{i}",
            home_store=store,
            tier=customer_pb2.TIER_VIP if i % 3 == 0 else customer_pb2.TIER_CLIENT,
            tags=["watches"] if i % 4 == 0 else [],
        )
        if i % 5 == 0:
            r.customer.preferences.add(category="colour", value="emerald")
        if i % 10 == 0:
            d = r.customer.important_dates.add(kind=customer_pb2.IMPORTANT_DATE_KIND_BIRTHDAY)
            d.date.year, d.date.month, d.date.day = 1985, today.month, today.day
        yield r


async def test_a_large_segment_streams_whole_and_filters_hold(customer_service, customer_stub):
    store = await known_store(customer_service)
    today = datetime.now(UTC)
    rows = list(_rows(store, today))
    batches = [(f"b{i}", rows[i : i + 5000]) for i in range(0, SIZE, 5000)]
    reply = await import_batches(customer_stub, f"big-{uid()}", batches)
    assert reply.accepted == SIZE

    everyone = await stream(customer_stub, segment_pb2.Segment(home_stores=[store]))
    assert len(everyone) == SIZE
    assert len({c.name for c in everyone}) == SIZE
    assert [c.name for c in everyone] == sorted(c.name for c in everyone)

    vip_watches = await stream(
        customer_stub,
        segment_pb2.Segment(home_stores=[store], tiers=[customer_pb2.TIER_VIP], tags=["watches"]),
        chunk_size=1000,
    )
    assert len(vip_watches) == len([i for i in range(SIZE) if i % 3 == 0 and i % 4 == 0])
    assert all(c.tier == customer_pb2.TIER_VIP and "watches" in c.tags for c in vip_watches)

    emerald = await stream(
        customer_stub,
        segment_pb2.Segment(
            home_stores=[store], preferences=[customer_pb2.Preference(category="colour", value="emerald")]
        ),
    )
    assert len(emerald) == SIZE // 5

    birthdays = await stream(customer_stub, segment_pb2.Segment(home_stores=[store], birthday_within_days=1))
    assert len(birthdays) == SIZE // 10


async def test_birthday_window_consent_and_purchase_criteria(customer_stub, customer_service):
    store = await known_store(customer_service)
    today = datetime.now(UTC).date()
    soon, later = today + timedelta(days=3), today + timedelta(days=40)
    rows = []
    for n, when in enumerate((soon, later, None), start=1):
        r = row(n, given_name=f"B{n}", home_store=store)
        if when:
            d = r.customer.important_dates.add(kind=customer_pb2.IMPORTANT_DATE_KIND_BIRTHDAY)
            d.date.month, d.date.day = when.month, when.day
        rows.append(r)
    await import_batches(customer_stub, f"imp-{uid()}", [("b", rows)])
    by_name = {c.given_name: c for c in await stream(customer_stub, segment_pb2.Segment(home_stores=[store]))}

    within = await stream(customer_stub, segment_pb2.Segment(home_stores=[store], birthday_within_days=7))
    assert [c.given_name for c in within] == ["B1"]

    for name, granted in (("B1", True), ("B2", False)):
        rpc = customer_stub.GrantConsent if granted else customer_stub.WithdrawConsent
        await rpc(
            api.GrantConsentRequest(
                name=by_name[name].name,
                channel=common_pb2.CHANNEL_WHATSAPP,
                purpose=common_pb2.PURPOSE_MARKETING,
                source="web-form",
            )
            if granted
            else api.WithdrawConsentRequest(
                name=by_name[name].name,
                channel=common_pb2.CHANNEL_WHATSAPP,
                purpose=common_pb2.PURPOSE_MARKETING,
                source="web-form",
            ),
            metadata=md(hq()),
            timeout=TIMEOUT,
        )
    consenting = await stream(
        customer_stub,
        segment_pb2.Segment(
            home_stores=[store],
            consent=segment_pb2.ConsentRequirement(
                channel=common_pb2.CHANNEL_WHATSAPP, purpose=common_pb2.PURPOSE_MARKETING
            ),
        ),
    )
    assert [c.given_name for c in consenting] == ["B1"]

    # Purchase figures as the purchase path keeps them (one row per customer and currency).
    recent = datetime.now(UTC) - timedelta(days=10)
    old = datetime.now(UTC) - timedelta(days=400)
    async with await connect(customer_service) as conn:
        for name, amount, last in (("B1", 12000, recent), ("B2", 900, old)):
            await conn.execute(
                "INSERT INTO customer_purchase_stats (customer_id, currency, lifetime_value, order_count,"
                " first_purchase_time, last_purchase_time, category_spend) VALUES (%s, 'EUR', %s, 1, %s, %s, '{}')",
                (by_name[name].name.split("/")[1], amount, last, last),
            )
    after = timestamp_pb2.Timestamp()
    after.FromDatetime(datetime.now(UTC) - timedelta(days=30))
    active = await stream(customer_stub, segment_pb2.Segment(home_stores=[store], last_purchase_after=after))
    assert [c.given_name for c in active] == ["B1"]
    big = await stream(
        customer_stub,
        segment_pb2.Segment(
            home_stores=[store], lifetime_value=segment_pb2.LifetimeValueRange(currency_code="EUR", min_units=10000)
        ),
    )
    assert [c.given_name for c in big] == ["B1"]
    small = await stream(
        customer_stub,
        segment_pb2.Segment(
            home_stores=[store], lifetime_value=segment_pb2.LifetimeValueRange(currency_code="EUR", max_units=10000)
        ),
    )
    assert [c.given_name for c in small] == ["B2"]
    lapsed = await stream(customer_stub, segment_pb2.Segment(home_stores=[store], tags=["lapsed"]))
    assert [c.given_name for c in lapsed] == ["B2"]

    # Assignments as the associate service's events leave them in the customer database.
    associate_id = f"a-{uid()}"
    async with await connect(customer_service) as conn:
        await conn.execute(
            "INSERT INTO customer_assignments (customer_id, associate_id, role) VALUES (%s, %s, 1)",
            (by_name["B3"].name.split("/")[1], associate_id),
        )
    held = await stream(customer_stub, segment_pb2.Segment(associates=[associate_id, "someone-else"]))
    assert [c.given_name for c in held] == ["B3"]


async def test_streaming_is_for_headquarters_and_services(customer_service, customer_stub):
    store = await known_store(customer_service)
    for principal in (associate(store), manager(store)):
        exc = await rpc_error(stream(customer_stub, segment_pb2.Segment(home_stores=[store]), principal))
        assert exc.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_info(exc).reason == "ROLE_DENIED"


async def test_a_malformed_segment_names_its_fields(customer_stub):
    segment = segment_pb2.Segment(
        tags=["Not A Tag!"],
        home_stores=["paris"],
        birthday_within_days=400,
        consent=segment_pb2.ConsentRequirement(channel=common_pb2.CHANNEL_SMS),
        lifetime_value=segment_pb2.LifetimeValueRange(currency_code="euro"),
    )
    exc = await rpc_error(stream(customer_stub, segment))
    assert sorted(bad_fields(exc)) == sorted(
        [
            "segment.tags[0]",
            "segment.home_stores[0]",
            "segment.birthday_within_days",
            "segment.consent.purpose",
            "segment.lifetime_value.currency_code",
            "segment.lifetime_value",
        ]
    )


async def test_the_consent_audience_is_the_one_the_domain_rule_gives(customer_service, customer_stub):
    """The segment query's consent criterion (SQL) holds exactly the customers for whom
    domain/consent.meets says yes, from the current answers GetCustomer shows."""
    store, sms, marketing = await known_store(customer_service), common_pb2.CHANNEL_SMS, common_pb2.PURPOSE_MARKETING
    answers = {
        "never-asked": [],
        "yes": [True],
        "yes-then-no": [True, False],
        "no-then-yes": [False, True],
        "no": [False],
        "yes-twice": [True, True],
    }
    for given_name, history in answers.items():
        created = await create(customer_stub, home_store=store, given_name=given_name)
        for granted in history:
            change = customer_stub.GrantConsent if granted else customer_stub.WithdrawConsent
            request = (api.GrantConsentRequest if granted else api.WithdrawConsentRequest)(
                name=created.name, channel=sms, purpose=marketing, source="boutique"
            )
            await change(request, metadata=md(hq()), timeout=TIMEOUT)
        # A yes on another purpose of the same channel counts for nothing here.
        await customer_stub.GrantConsent(
            api.GrantConsentRequest(
                name=created.name, channel=sms, purpose=common_pb2.PURPOSE_SERVICE, source="boutique"
            ),
            metadata=md(hq()),
            timeout=TIMEOUT,
        )
    everyone = await stream(customer_stub, segment_pb2.Segment(home_stores=[store]))
    requirement = consent.Requirement(sms, marketing)
    expected = {
        c.given_name
        for c in everyone
        if consent.meets(
            requirement,
            [
                consent.Answer(a.channel, a.purpose, a.granted, a.source, a.actor, a.update_time.ToDatetime())
                for a in c.consents
            ],
        )
    }
    audience = await stream(
        customer_stub,
        segment_pb2.Segment(
            home_stores=[store], consent=segment_pb2.ConsentRequirement(channel=sms, purpose=marketing)
        ),
    )
    assert {c.given_name for c in audience} == expected == {"yes", "no-then-yes", "yes-twice"}
