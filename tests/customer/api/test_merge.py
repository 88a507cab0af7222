"""Duplicates and merges: what moves, the redirect, the undo, the dependency rule,
candidate reasons and scores, and who may do it."""

from __future__ import annotations

import grpc

from atelier.common.v1 import common_pb2
from atelier.customer.v1 import customer_pb2, purchase_service_pb2, purchase_service_pb2_grpc
from atelier.customer.v1 import customer_service_pb2 as api
from atelier.events.v1 import customer_events_pb2 as ev
from tests.conftest import associate, hq, manager
from tests.customer.support import (
    TIMEOUT,
    ago,
    create,
    email,
    error_info,
    get,
    interaction,
    known_store,
    md,
    outbox_events,
    phone,
    record_interaction,
    record_purchase,
    rpc_error,
    uid,
    unique_email,
    unique_phone,
)

Reason = api.DuplicateReasonKind


async def _consent(stub, name, granted, channel=common_pb2.CHANNEL_EMAIL):
    request = (api.GrantConsentRequest if granted else api.WithdrawConsentRequest)(
        name=name, channel=channel, purpose=common_pb2.PURPOSE_MARKETING, source="store-tablet"
    )
    rpc = stub.GrantConsent if granted else stub.WithdrawConsent
    await rpc(request, metadata=md(hq()), timeout=TIMEOUT)


async def _note(stub, name, text):
    await stub.CreateNote(
        api.CreateNoteRequest(parent=name, note=customer_pb2.Note(text=text)), metadata=md(hq()), timeout=TIMEOUT
    )


async def _picture(stub, channel, name):
    """Everything the API shows about one customer, minus what a merge legitimately bumps."""
    customer = await get(stub, name)
    customer.ClearField("etag")
    customer.ClearField("update_time")
    notes = await stub.ListNotes(api.ListNotesRequest(parent=name), metadata=md(hq()), timeout=TIMEOUT)
    consents = await stub.ListConsentChanges(
        api.ListConsentChangesRequest(parent=name), metadata=md(hq()), timeout=TIMEOUT
    )
    purchases = await purchase_service_pb2_grpc.PurchaseServiceStub(channel).ListPurchases(
        purchase_service_pb2.ListPurchasesRequest(parent=name), metadata=md(hq()), timeout=TIMEOUT
    )
    return customer, notes, consents, sorted(p.name for p in purchases.purchases)


async def _merge(stub, survivor, duplicate, principal=None):
    return await stub.MergeCustomers(
        api.MergeCustomersRequest(survivor=survivor, duplicate=duplicate),
        metadata=md(principal or hq()),
        timeout=TIMEOUT,
    )


async def _unmerge(stub, merge, principal=None):
    return await stub.UnmergeCustomers(
        api.UnmergeCustomersRequest(name=merge), metadata=md(principal or hq()), timeout=TIMEOUT
    )


async def test_merge_then_unmerge_round_trip(customer_stub, customer_service):
    channel = customer_service.channel()
    store = await known_store(customer_service)
    a = await create(
        customer_stub,
        home_store=store,
        given_name="Hélène",
        family_name="Laurent",
        contact_points=[email(unique_email()[0])],
        tags=["press"],
    )
    b = await create(
        customer_stub,
        home_store=store,
        given_name="Helene",
        family_name="",
        preferred_name="Lena",
        contact_points=[phone(unique_phone()[0]), email(unique_email()[0])],
        tags=["vip-list"],
        preferences=[customer_pb2.Preference(category="ring_size", value="52")],
    )
    await _consent(customer_stub, a.name, True)
    await _consent(customer_stub, b.name, False)  # the most recent answer: withdrawn
    await _consent(customer_stub, b.name, True, channel=common_pb2.CHANNEL_SMS)
    await _note(customer_stub, a.name, "likes emeralds")
    await _note(customer_stub, b.name, "prefers mornings")
    await record_purchase(channel, a.name, "EUR", 100, store=store)
    await record_purchase(channel, b.name, "EUR", 50, category="shoes", store=store)
    await record_purchase(channel, b.name, "USD", 20, store=store)
    await record_interaction(channel, b.name, "Bonjour, is the bag available?")
    before_a = await _picture(customer_stub, channel, a.name)
    before_b = await _picture(customer_stub, channel, b.name)

    merge = await _merge(customer_stub, a.name, b.name)
    assert merge.name.startswith("merges/") and (merge.survivor, merge.duplicate) == (a.name, b.name)
    assert dict(merge.moved) == {
        "contact_points": 2,
        "consent_changes": 2,
        "notes": 1,
        "purchases": 2,
        "interactions": 1,
        "purchase_stats": 2,
        "computed_tags": 1,
    }

    survivor, notes, consents, purchases = await _picture(customer_stub, channel, a.name)
    assert survivor.given_name == "Hélène" and survivor.preferred_name == "Lena"
    assert len(survivor.contact_points) == 3
    assert list(survivor.tags) == ["press", "vip-list"]
    assert [p.value for p in survivor.preferences] == ["52"]
    current = {(c.channel, c.purpose): c.granted for c in survivor.consents}
    assert current == {
        (common_pb2.CHANNEL_EMAIL, common_pb2.PURPOSE_MARKETING): False,
        (common_pb2.CHANNEL_SMS, common_pb2.PURPOSE_MARKETING): True,
    }
    assert len(consents.consent_changes) == 3  # history kept
    assert sorted(n.text for n in notes.notes) == ["likes emeralds", "prefers mornings"]
    assert len(purchases) == 3
    ltv = {m.currency_code: m.units for m in survivor.purchase_stats.lifetime_value}
    assert ltv == {"EUR": 150, "USD": 20} and survivor.purchase_stats.order_count == 3

    # The duplicate's name answers with the survivor.
    redirected = await get(customer_stub, b.name)
    assert redirected.name == a.name
    merged_events = [
        ev.CustomerMerged.FromString(e.payload.value)
        for e in await outbox_events(customer_service, "atelier.customer.merged")
    ]
    assert any(m.merge == merge.name and m.survivor == a.name and m.duplicate == b.name for m in merged_events)

    undone = await _unmerge(customer_stub, merge.name)
    assert undone.HasField("undo_time") and undone.undo_actor == hq().subject
    assert await _picture(customer_stub, channel, a.name) == before_a
    assert await _picture(customer_stub, channel, b.name) == before_b
    unmerged = [
        ev.CustomerUnmerged.FromString(e.payload.value)
        for e in await outbox_events(customer_service, "atelier.customer.unmerged")
    ]
    assert any(u.merge == merge.name and u.customer.name == b.name for u in unmerged)

    exc = await rpc_error(_unmerge(customer_stub, merge.name))
    assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION and error_info(exc).reason == "MERGE_ALREADY_UNDONE"
    await channel.close()


async def test_unmerge_is_refused_while_a_later_merge_depends_on_it(customer_service, customer_stub):
    store = await known_store(customer_service)
    a, b, c = [await create(customer_stub, home_store=store, given_name=f"N{i}") for i in range(3)]
    first = await _merge(customer_stub, a.name, b.name)
    second = await _merge(customer_stub, c.name, a.name)
    assert (await get(customer_stub, b.name)).name == c.name  # redirects follow later merges

    exc = await rpc_error(_unmerge(customer_stub, first.name))
    assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION
    info = error_info(exc)
    assert info.reason == "LATER_MERGE_DEPENDS" and info.metadata["later_merge"] == second.name

    await _unmerge(customer_stub, second.name)
    await _unmerge(customer_stub, first.name)
    names = {(await get(customer_stub, x.name)).name for x in (a, b, c)}
    assert names == {a.name, b.name, c.name}


async def test_merging_a_missing_or_same_customer(customer_service, customer_stub):
    a = await create(customer_stub, home_store=await known_store(customer_service))
    exc = await rpc_error(_merge(customer_stub, a.name, a.name))
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    exc = await rpc_error(_merge(customer_stub, a.name, f"customers/missing-{uid()}"))
    assert exc.code() == grpc.StatusCode.NOT_FOUND


async def test_find_duplicates_reasons_and_scores(customer_service, customer_stub):
    store = await known_store(customer_service)
    national, e164 = unique_phone()
    local = f"claire.{uid()}"
    birthday = customer_pb2.ImportantDate(kind=customer_pb2.IMPORTANT_DATE_KIND_BIRTHDAY)
    birthday.date.year, birthday.date.month, birthday.date.day = 1984, 3, 9
    x = await create(
        customer_stub,
        home_store=store,
        given_name="Claire",
        family_name=f"Dubois{local[-4:]}",
        contact_points=[phone(national), email(f"{local}@example.com")],
        important_dates=[birthday],
    )
    y = await create(
        customer_stub,
        home_store=store,
        given_name="Clair",
        family_name=f"Dubois{local[-4:]}",
        contact_points=[
            customer_pb2.ContactPoint(kind=customer_pb2.CONTACT_KIND_WHATSAPP, value=e164),
            email(f"{local}+shop@example.com"),
        ],
        important_dates=[birthday],
    )
    reply = await customer_stub.FindDuplicates(
        api.FindDuplicatesRequest(customer=x.name), metadata=md(hq()), timeout=TIMEOUT
    )
    pair = next(c for c in reply.candidates if {c.customer, c.other} == {x.name, y.name})
    assert (pair.customer, pair.other) == (x.name, y.name)  # the older one first
    assert [r.kind for r in pair.reasons] == [
        Reason.DUPLICATE_REASON_KIND_SAME_PHONE,
        Reason.DUPLICATE_REASON_KIND_SAME_EMAIL,
        Reason.DUPLICATE_REASON_KIND_SIMILAR_NAME_SAME_BIRTHDAY,
    ]
    assert pair.reasons[0].detail == e164
    assert pair.score > 0.99

    only_phone_a = await create(customer_stub, home_store=store, contact_points=[phone(unique_phone()[0])])
    only_phone_b = await create(
        customer_stub,
        home_store=store,
        contact_points=[
            customer_pb2.ContactPoint(
                kind=customer_pb2.CONTACT_KIND_WHATSAPP, value=only_phone_a.contact_points[0].value
            )
        ],
    )
    reply = await customer_stub.FindDuplicates(
        api.FindDuplicatesRequest(customer=only_phone_b.name), metadata=md(hq()), timeout=TIMEOUT
    )
    assert [(c.customer, c.other, round(c.score, 2)) for c in reply.candidates] == [
        (only_phone_a.name, only_phone_b.name, 0.9)
    ]


async def test_only_headquarters_merges(customer_service, customer_stub):
    store = await known_store(customer_service)
    a = await create(customer_stub, home_store=store)
    b = await create(customer_stub, home_store=store)
    for principal in (associate(store), manager(store)):
        for call in (
            _merge(customer_stub, a.name, b.name, principal),
            customer_stub.FindDuplicates(api.FindDuplicatesRequest(), metadata=md(principal), timeout=TIMEOUT),
            _unmerge(customer_stub, f"merges/m-{uid()}", principal),
        ):
            exc = await rpc_error(call)
            assert exc.code() == grpc.StatusCode.PERMISSION_DENIED, exc
            assert error_info(exc).reason == "ROLE_DENIED"
    assert (await get(customer_stub, b.name)).name == b.name


async def test_a_merge_keeps_touchpoints_recorded_under_one_external_id_for_both(
    customer_stub, customer_service, timeline_stub
):
    """An external id is unique per customer (audit item 8): two duplicates may both hold
    one. Merged, the survivor keeps hers with the id and the duplicate's without it; the
    undo gives it back."""
    from atelier.customer.v1 import timeline_service_pb2

    store = await known_store(customer_service)
    a = await create(customer_stub, home_store=store)
    b = await create(customer_stub, home_store=store)
    external, when = f"wamid.{uid()}", ago(minutes=5)
    mine = await interaction(timeline_stub, a.name, external_id=external, preview="hello", when=when)
    theirs = await interaction(timeline_stub, b.name, external_id=external, preview="hello", when=when)

    merge = await _merge(customer_stub, a.name, b.name)
    assert merge.moved["interactions"] == 1
    timeline = await timeline_stub.ListTimeline(
        timeline_service_pb2.ListTimelineRequest(parent=a.name), metadata=md(hq()), timeout=TIMEOUT
    )
    ids = {e.interaction.name.rsplit("/", 1)[1]: e.interaction.external_id for e in timeline.entries}
    assert ids == {mine.name.rsplit("/", 1)[1]: external, theirs.name.rsplit("/", 1)[1]: ""}
    # A replay for the survivor still finds hers.
    assert await interaction(timeline_stub, a.name, external_id=external, preview="hello", when=when) == mine

    await _unmerge(customer_stub, merge.name)
    back = await timeline_stub.ListTimeline(
        timeline_service_pb2.ListTimelineRequest(parent=b.name), metadata=md(hq()), timeout=TIMEOUT
    )
    assert [e.interaction.external_id for e in back.entries] == [external]
