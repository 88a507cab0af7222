"""RecordInteraction and the merged timeline: replayed webhooks, every interaction kind,
merge order across interactions, purchases, notes and consent changes, paging and kinds."""

from __future__ import annotations

from atelier.common.v1 import common_pb2
from atelier.customer.v1 import customer_pb2, interaction_pb2
from atelier.customer.v1 import customer_service_pb2 as capi
from atelier.customer.v1 import timeline_service_pb2 as tapi
from servicekit.auth import Principal, Role
from tests.conftest import associate, manager
from tests.customer.support import (
    TIMEOUT,
    IKind,
    ago,
    create,
    denied_reason,
    events_of,
    interaction,
    invalid_fields,
    known_referral_code,
    known_store,
    line,
    md,
    purchase,
    record,
    scalar,
    ts,
    uid,
)

RECORDED = "atelier.customer.interaction_recorded"
Entry = tapi.TimelineEntryKind


async def test_every_interaction_kind_is_recorded(customer_service, timeline_stub, customer_stub):
    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    code = await known_referral_code(customer_service, store)
    for kind in interaction_pb2.InteractionKind.values():
        if kind == 0:
            continue
        fields = dict(kind=kind, preview=f"kind {kind}", reference="campaigns/c-1")
        if kind in (IKind.INTERACTION_KIND_MESSAGE, IKind.INTERACTION_KIND_CALL):
            fields.update(channel=common_pb2.CHANNEL_WHATSAPP, direction=interaction_pb2.DIRECTION_INBOUND)
        if kind == IKind.INTERACTION_KIND_QR_SCAN:
            fields.update(referral_code=code, associate="associates/a-7")
        got = await interaction(timeline_stub, target.name, **fields)
        assert got.name.startswith(target.name + "/interactions/") and got.kind == kind
    listed = await timeline_stub.ListTimeline(
        tapi.ListTimelineRequest(parent=target.name), metadata=md(), timeout=TIMEOUT
    )
    assert len(listed.entries) == len(interaction_pb2.InteractionKind.values()) - 1
    scan = [e.interaction for e in listed.entries if e.interaction.kind == IKind.INTERACTION_KIND_QR_SCAN]
    assert scan[0].referral_code == code


async def test_replayed_webhook_records_nothing(customer_service, timeline_stub, customer_stub, db):
    target = await create(customer_stub, home_store=await known_store(customer_service))
    external = f"wamid.{uid()}"
    fields = dict(
        kind=IKind.INTERACTION_KIND_MESSAGE,
        channel=common_pb2.CHANNEL_WHATSAPP,
        direction=interaction_pb2.DIRECTION_INBOUND,
        preview="Bonjour, la bague est-elle arrivée ?",
        external_id=external,
        when=ago(minutes=5),
    )
    first = await interaction(timeline_stub, target.name, **fields)
    again = await interaction(timeline_stub, target.name, **fields)
    assert again == first
    assert await scalar(db, "SELECT count(*) FROM interactions WHERE external_id = %s", external) == 1
    assert await events_of(db, RECORDED, target.name) == 1
    # The same id on another channel is another message.
    other = await interaction(timeline_stub, target.name, **{**fields, "channel": common_pb2.CHANNEL_WECHAT})
    assert other.name != first.name
    # ...and never attaches to another customer: the id names a touchpoint of hers (audit
    # item 8: recorded for someone else, it says nothing of the first customer).
    someone = await create(customer_stub, home_store=await known_store(customer_service))
    theirs = await interaction(timeline_stub, someone.name, **fields)
    assert theirs.name.startswith(f"{someone.name}/interactions/") and target.name not in str(theirs)
    assert await scalar(db, "SELECT count(*) FROM interactions WHERE external_id = %s", external) == 3


async def test_interactions_without_external_id_never_collide(customer_service, timeline_stub, customer_stub):
    target = await create(customer_stub, home_store=await known_store(customer_service))
    a = await interaction(timeline_stub, target.name)
    b = await interaction(timeline_stub, target.name)
    assert a.name != b.name


async def test_interaction_validation_names_the_fields(customer_service, timeline_stub, customer_stub):
    target = await create(customer_stub, home_store=await known_store(customer_service))
    request = tapi.RecordInteractionRequest(
        parent=target.name,
        interaction=interaction_pb2.Interaction(
            kind=IKind.INTERACTION_KIND_MESSAGE,
            store="Paris",
            associate="a-1",
            preview="x" * 1001,
            occur_time=ts(ago(days=-2)),
        ),
    )
    assert await invalid_fields(timeline_stub.RecordInteraction(request, metadata=md(), timeout=TIMEOUT)) == [
        "interaction.channel",
        "interaction.direction",
        "interaction.preview",
        "interaction.store",
        "interaction.associate",
        "interaction.occur_time",
    ]
    scan = tapi.RecordInteractionRequest(
        parent=target.name,
        interaction=interaction_pb2.Interaction(kind=IKind.INTERACTION_KIND_QR_SCAN, occur_time=ts(ago())),
    )
    assert await invalid_fields(timeline_stub.RecordInteraction(scan, metadata=md(), timeout=TIMEOUT)) == [
        "interaction.referral_code"
    ]
    assert await invalid_fields(
        timeline_stub.RecordInteraction(tapi.RecordInteractionRequest(parent="nobody"), metadata=md(), timeout=TIMEOUT)
    ) == ["parent", "interaction", "interaction.kind", "interaction.occur_time"]


async def test_interaction_authorisation(customer_service, timeline_stub, customer_stub):
    paris, milan = await known_store(customer_service), await known_store(customer_service)
    holder = associate(milan, f"a-{uid()}")
    target = await create(customer_stub, holder, home_store=milan)
    assert await denied_reason(interaction(timeline_stub, target.name, associate(paris))) == "CUSTOMER_OUT_OF_SCOPE"
    assert (
        await denied_reason(
            timeline_stub.ListTimeline(
                tapi.ListTimelineRequest(parent=target.name), metadata=md(manager(paris)), timeout=TIMEOUT
            )
        )
        == "CUSTOMER_OUT_OF_SCOPE"
    )
    webhook = Principal(subject="services/messaging", role=Role.SERVICE)
    assert (await interaction(timeline_stub, target.name, webhook)).name
    assert (await interaction(timeline_stub, target.name, holder)).name
    assert (await interaction(timeline_stub, target.name, manager(milan))).name
    assert (
        await denied_reason(interaction(timeline_stub, target.name, associate(milan, "a-other")))
        == "CUSTOMER_OUT_OF_SCOPE"
    )


async def _timeline_fixture(customer_service, timeline_stub, customer_stub, purchase_stub):
    """A customer with one entry of each kind at known, distinct times (oldest first)."""
    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    visit = await interaction(timeline_stub, target.name, when=ago(days=10), preview="visit")
    bought = await record(purchase_stub, target.name, purchase(line("A", "10"), store=store, when=ago(days=8)))
    message = await interaction(
        timeline_stub,
        target.name,
        when=ago(days=6),
        kind=IKind.INTERACTION_KIND_MESSAGE,
        channel=common_pb2.CHANNEL_SMS,
        direction=interaction_pb2.DIRECTION_OUTBOUND,
    )
    # Notes and consent changes take their time when recorded: now, after the rest.
    note = await customer_stub.CreateNote(
        capi.CreateNoteRequest(parent=target.name, note=customer_pb2.Note(text="likes emeralds")),
        metadata=md(),
        timeout=TIMEOUT,
    )
    await customer_stub.GrantConsent(
        capi.GrantConsentRequest(
            name=target.name,
            channel=common_pb2.CHANNEL_SMS,
            purpose=common_pb2.PURPOSE_MARKETING,
            source="store-tablet",
        ),
        metadata=md(),
        timeout=TIMEOUT,
    )
    return target, visit, bought, message, note


def _key(entry: tapi.TimelineEntry) -> str:
    which = entry.WhichOneof("entry")
    if which == "consent_change":
        return "consent"
    return getattr(entry, which).name


async def test_timeline_merges_every_kind_newest_first_and_pages(
    customer_service, timeline_stub, customer_stub, purchase_stub
):
    target, visit, bought, message, note = await _timeline_fixture(
        customer_service, timeline_stub, customer_stub, purchase_stub
    )
    full = await timeline_stub.ListTimeline(
        tapi.ListTimelineRequest(parent=target.name), metadata=md(), timeout=TIMEOUT
    )
    assert [_key(e) for e in full.entries] == ["consent", note.name, message.name, bought.name, visit.name]
    assert full.entries[3].purchase == bought and full.entries[2].interaction == message
    assert full.next_page_token == ""
    times = [e.occur_time.ToDatetime() for e in full.entries]
    assert times == sorted(times, reverse=True)

    paged, token = [], ""
    while True:
        page = await timeline_stub.ListTimeline(
            tapi.ListTimelineRequest(parent=target.name, page_size=2, page_token=token), metadata=md(), timeout=TIMEOUT
        )
        assert len(page.entries) <= 2
        paged += list(page.entries)
        token = page.next_page_token
        if not token:
            break
    assert paged == list(full.entries)


async def test_timeline_kinds_filter(customer_service, timeline_stub, customer_stub, purchase_stub):
    target, visit, bought, message, note = await _timeline_fixture(
        customer_service, timeline_stub, customer_stub, purchase_stub
    )

    async def keys(**kw):
        reply = await timeline_stub.ListTimeline(
            tapi.ListTimelineRequest(parent=target.name, **kw), metadata=md(), timeout=TIMEOUT
        )
        return [_key(e) for e in reply.entries]

    assert await keys(kinds=[Entry.TIMELINE_ENTRY_KIND_INTERACTION]) == [message.name, visit.name]
    assert await keys(kinds=[Entry.TIMELINE_ENTRY_KIND_PURCHASE, Entry.TIMELINE_ENTRY_KIND_NOTE]) == [
        note.name,
        bought.name,
    ]
    assert await keys(kinds=[Entry.TIMELINE_ENTRY_KIND_CONSENT_CHANGE]) == ["consent"]
    assert await keys(
        kinds=[Entry.TIMELINE_ENTRY_KIND_INTERACTION], interaction_kinds=[IKind.INTERACTION_KIND_MESSAGE]
    ) == [message.name]
    assert await invalid_fields(
        timeline_stub.ListTimeline(
            tapi.ListTimelineRequest(parent=target.name, kinds=[0]), metadata=md(), timeout=TIMEOUT
        )
    ) == ["kinds[0]"]


async def test_page_token_is_bound_to_its_filter(customer_service, timeline_stub, customer_stub, purchase_stub):
    target, *_ = await _timeline_fixture(customer_service, timeline_stub, customer_stub, purchase_stub)
    first = await timeline_stub.ListTimeline(
        tapi.ListTimelineRequest(parent=target.name, page_size=1), metadata=md(), timeout=TIMEOUT
    )
    assert await invalid_fields(
        timeline_stub.ListTimeline(
            tapi.ListTimelineRequest(
                parent=target.name,
                page_size=1,
                page_token=first.next_page_token,
                kinds=[Entry.TIMELINE_ENTRY_KIND_NOTE],
            ),
            metadata=md(),
            timeout=TIMEOUT,
        )
    ) == ["page_token"]
    assert await invalid_fields(
        timeline_stub.ListTimeline(
            tapi.ListTimelineRequest(parent=target.name, page_token="garbage"), metadata=md(), timeout=TIMEOUT
        )
    ) == ["page_token"]


async def test_a_qr_scan_names_a_referral_code_the_directory_knows(customer_service, timeline_stub, customer_stub):
    """Re-audit: a QR scan naming a code nobody has was recorded without a word. The code
    is checked as CreateCustomer checks hers: INVALID_ARGUMENT naming the field."""
    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    code = await known_referral_code(customer_service, store)
    assert await invalid_fields(
        interaction(timeline_stub, target.name, kind=IKind.INTERACTION_KIND_QR_SCAN, referral_code="ZZZZ9999")
    ) == ["interaction.referral_code"]
    scanned = await interaction(timeline_stub, target.name, kind=IKind.INTERACTION_KIND_QR_SCAN, referral_code=code)
    assert scanned.referral_code == code
