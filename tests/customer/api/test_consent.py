"""Consent per channel × purpose: current state derived from the history, history newest
first, events only when the answer changes."""

from __future__ import annotations

from atelier.common.v1 import common_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from tests.conftest import associate, hq, manager
from tests.customer.support import TIMEOUT, create, get, known_store, md, scalar

EMAIL, SMS, WHATSAPP = common_pb2.CHANNEL_EMAIL, common_pb2.CHANNEL_SMS, common_pb2.CHANNEL_WHATSAPP
MARKETING, SERVICE = common_pb2.PURPOSE_MARKETING, common_pb2.PURPOSE_SERVICE


async def grant(stub, name, channel, purpose, source, principal=None):
    return await stub.GrantConsent(
        api.GrantConsentRequest(name=name, channel=channel, purpose=purpose, source=source),
        metadata=md(principal or hq()),
        timeout=TIMEOUT,
    )


async def withdraw(stub, name, channel, purpose, source, principal=None):
    return await stub.WithdrawConsent(
        api.WithdrawConsentRequest(name=name, channel=channel, purpose=purpose, source=source),
        metadata=md(principal or hq()),
        timeout=TIMEOUT,
    )


async def history(stub, name, principal=None):
    reply = await stub.ListConsentChanges(
        api.ListConsentChangesRequest(parent=name), metadata=md(principal or hq()), timeout=TIMEOUT
    )
    return list(reply.consent_changes)


async def consent_events(db, name: str) -> int:
    return await scalar(
        db,
        "SELECT count(*) FROM outbox WHERE event_type = 'atelier.customer.consent_changed' "
        "AND position(convert_to(%s, 'UTF8') in envelope) > 0",
        name,
    )


async def test_grant_then_withdraw(customer_service, customer_stub, db):
    store = await known_store(customer_service)
    clerk, boss = associate(store), manager(store)
    # The clerk holds the customer she created (associates reach only their own clients).
    target = await create(customer_stub, clerk, home_store=store)

    granted = await grant(customer_stub, target.name, EMAIL, MARKETING, " store-tablet ", clerk)
    (current,) = granted.consents
    assert (current.channel, current.purpose, current.granted) == (EMAIL, MARKETING, True)
    assert current.source == "store-tablet"
    assert current.actor == clerk.subject
    assert current.update_time.seconds > 0

    withdrawn = await withdraw(customer_stub, target.name, EMAIL, MARKETING, "web-form", boss)
    (current,) = withdrawn.consents
    assert (current.channel, current.purpose, current.granted) == (EMAIL, MARKETING, False)
    assert (current.source, current.actor) == ("web-form", boss.subject)
    assert current.update_time.ToDatetime() >= granted.consents[0].update_time.ToDatetime()
    assert await get(customer_stub, target.name) == withdrawn

    changes = await history(customer_stub, target.name, clerk)
    assert [(c.granted, c.source, c.actor) for c in changes] == [
        (False, "web-form", boss.subject),
        (True, "store-tablet", clerk.subject),
    ]
    assert all((c.channel, c.purpose) == (EMAIL, MARKETING) for c in changes)
    assert changes[0].change_time.ToDatetime() >= changes[1].change_time.ToDatetime()
    assert changes[0].change_time == current.update_time
    assert await consent_events(db, target.name) == 2


async def test_current_consent_is_latest_per_channel_and_purpose(customer_service, customer_stub):
    target = await create(customer_stub, home_store=await known_store(customer_service))
    await grant(customer_stub, target.name, SMS, SERVICE, "s1")
    await grant(customer_stub, target.name, EMAIL, MARKETING, "s2")
    await withdraw(customer_stub, target.name, SMS, SERVICE, "s3")
    await grant(customer_stub, target.name, WHATSAPP, MARKETING, "s4")
    await grant(customer_stub, target.name, SMS, MARKETING, "s5")
    final = await grant(customer_stub, target.name, SMS, SERVICE, "s6")
    assert sorted((c.channel, c.purpose, c.granted, c.source) for c in final.consents) == sorted(
        [
            (EMAIL, MARKETING, True, "s2"),
            (SMS, SERVICE, True, "s6"),
            (SMS, MARKETING, True, "s5"),
            (WHATSAPP, MARKETING, True, "s4"),
        ]
    )
    assert [c.source for c in await history(customer_stub, target.name)] == ["s6", "s5", "s4", "s3", "s2", "s1"]


async def test_repeated_answer_is_kept_as_evidence_without_a_new_event(customer_service, customer_stub, db):
    target = await create(customer_stub, home_store=await known_store(customer_service))
    first = await grant(customer_stub, target.name, EMAIL, SERVICE, "store-tablet")
    second = await grant(customer_stub, target.name, EMAIL, SERVICE, "web-form")
    assert second.consents[0].source == "web-form"
    assert second.etag != first.etag
    assert [c.source for c in await history(customer_stub, target.name)] == ["web-form", "store-tablet"]
    assert await consent_events(db, target.name) == 1


async def test_withdrawal_without_a_prior_grant_is_recorded(customer_service, customer_stub, db):
    target = await create(customer_stub, home_store=await known_store(customer_service))
    result = await withdraw(customer_stub, target.name, common_pb2.CHANNEL_POST, MARKETING, "paper-form")
    assert [(c.channel, c.granted) for c in result.consents] == [(common_pb2.CHANNEL_POST, False)]
    assert await consent_events(db, target.name) == 1


async def test_history_of_a_new_customer_is_empty(customer_service, customer_stub):
    target = await create(customer_stub, home_store=await known_store(customer_service))
    assert await history(customer_stub, target.name) == []
