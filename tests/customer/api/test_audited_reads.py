"""Every read of personal data leaves an audit record (issue 8, item 9): lists, searches,
notes, purchases, consent history, the timeline, streams and duplicate candidates, one
record per customer whose data the answer held, read back through ListAuditRecords."""

from __future__ import annotations

import asyncio

from atelier.common.v1 import common_pb2
from atelier.customer.v1 import customer_pb2, privacy_service_pb2_grpc, segment_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from atelier.customer.v1 import privacy_service_pb2 as papi
from atelier.customer.v1 import purchase_service_pb2 as purchase_api
from atelier.customer.v1 import timeline_service_pb2 as timeline_api
from servicekit.auth import Principal, Role
from tests.conftest import hq, manager
from tests.customer.support import (
    TIMEOUT,
    create,
    denied_reason,
    email,
    known_store,
    letters,
    line,
    md,
    purchase,
    record,
    stream,
    unique_email,
)


async def audited(service, actor: str, wanted: int) -> list[papi.AuditRecord]:
    """The actor's audit records once `wanted` of them are written (the writer batches
    them within ~100 ms), oldest first."""
    channel = service.channel()
    try:
        privacy = privacy_service_pb2_grpc.PrivacyServiceStub(channel)
        records: list[papi.AuditRecord] = []
        for _ in range(100):
            reply = await privacy.ListAuditRecords(
                papi.ListAuditRecordsRequest(actor=actor, page_size=200), metadata=md(hq()), timeout=TIMEOUT
            )
            records = list(reversed(reply.audit_records))
            if len(records) >= wanted:
                break
            await asyncio.sleep(0.05)
        return records
    finally:
        await channel.close()


def pairs(records: list[papi.AuditRecord]) -> set[tuple[str, str]]:
    return {(r.action, r.resource) for r in records}


async def test_lists_searches_and_child_lists_are_audited_per_customer_returned(
    customer_service, customer_stub, purchase_stub, timeline_stub
):
    store = await known_store(customer_service)
    family = letters(12)
    a = await create(customer_stub, home_store=store, family_name=family, contact_points=[email(unique_email()[0])])
    b = await create(customer_stub, home_store=store, family_name=family)
    await customer_stub.CreateNote(
        api.CreateNoteRequest(parent=a.name, note=customer_pb2.Note(text="likes emeralds")), metadata=md(), timeout=10
    )
    await customer_stub.GrantConsent(
        api.GrantConsentRequest(
            name=a.name, channel=common_pb2.CHANNEL_EMAIL, purpose=common_pb2.PURPOSE_MARKETING, source="tablet"
        ),
        metadata=md(),
        timeout=TIMEOUT,
    )
    bought = await record(purchase_stub, a.name, purchase(line("R-1", "900"), store=store))
    reader = manager(store)
    as_reader = md(reader)

    listed = await customer_stub.ListCustomers(
        api.ListCustomersRequest(filter=f'home_store = "{store}"'),
        metadata=(*as_reader, ("x-atelier-purpose", "clienteling list")),
        timeout=TIMEOUT,
    )
    assert {c.name for c in listed.customers} == {a.name, b.name}
    found = await customer_stub.SearchCustomers(api.SearchCustomersRequest(query=family), metadata=as_reader)
    assert {r.customer.name for r in found.results} == {a.name, b.name}
    await customer_stub.ListNotes(api.ListNotesRequest(parent=a.name), metadata=as_reader, timeout=TIMEOUT)
    await customer_stub.ListConsentChanges(
        api.ListConsentChangesRequest(parent=a.name), metadata=as_reader, timeout=TIMEOUT
    )
    await purchase_stub.ListPurchases(
        purchase_api.ListPurchasesRequest(parent=a.name), metadata=as_reader, timeout=TIMEOUT
    )
    await purchase_stub.GetPurchase(purchase_api.GetPurchaseRequest(name=bought.name), metadata=as_reader)
    await timeline_stub.ListTimeline(timeline_api.ListTimelineRequest(parent=a.name), metadata=as_reader)

    records = await audited(customer_service, reader.subject, 9)
    assert pairs(records) == {
        ("ListCustomers", a.name),
        ("ListCustomers", b.name),
        ("SearchCustomers", a.name),
        ("SearchCustomers", b.name),
        ("ListNotes", a.name),
        ("ListConsentChanges", a.name),
        ("ListPurchases", a.name),
        ("GetPurchase", a.name),
        ("ListTimeline", a.name),
    }
    assert len(records) == 9
    assert {r.purpose for r in records if r.action == "ListCustomers"} == {"clienteling list"}
    assert all(r.role == "manager" and r.request_id for r in records)


async def test_streams_and_duplicate_candidates_are_audited(customer_service, customer_stub):
    store = await known_store(customer_service)
    shared = unique_email()[0]
    first = await create(customer_stub, home_store=store, contact_points=[email(shared)])
    second = await create(
        customer_stub, home_store=store, contact_points=[email(shared.replace("@", "+shop@"))], given_name="Helene"
    )
    campaigns = Principal(subject=f"services/campaigns-{letters(6)}", role=Role.SERVICE)
    streamed = await stream(customer_stub, segment_pb2.Segment(home_stores=[store]), campaigns, chunk_size=1)
    assert {c.name for c in streamed} == {first.name, second.name}
    steward = Principal(subject=f"staff/hq-{letters(6)}", role=Role.HQ)
    duplicates = await customer_stub.FindDuplicates(
        api.FindDuplicatesRequest(customer=first.name), metadata=md(steward), timeout=TIMEOUT
    )
    assert duplicates.candidates

    assert pairs(await audited(customer_service, campaigns.subject, 2)) == {
        ("StreamCustomers", first.name),
        ("StreamCustomers", second.name),
    }
    assert pairs(await audited(customer_service, steward.subject, 2)) == {
        ("FindDuplicates", first.name),
        ("FindDuplicates", second.name),
    }


async def test_a_refused_or_empty_read_leaves_no_record(customer_service, customer_stub):
    store, elsewhere = await known_store(customer_service), await known_store(customer_service)
    customer = await create(customer_stub, home_store=store)
    stranger = manager(elsewhere)
    reason = await denied_reason(
        customer_stub.ListNotes(api.ListNotesRequest(parent=customer.name), metadata=md(stranger), timeout=TIMEOUT)
    )
    assert reason == "CUSTOMER_OUT_OF_SCOPE"
    empty = await customer_stub.ListCustomers(
        api.ListCustomersRequest(filter=f'home_store = "{elsewhere}"'), metadata=md(stranger), timeout=TIMEOUT
    )
    assert not empty.customers
    # A read that is audited, to know the writer has flushed past the two above.
    await customer_stub.GetCustomer(api.GetCustomerRequest(name=customer.name), metadata=md(manager(store)))
    await audited(customer_service, manager(store).subject, 1)
    assert await audited(customer_service, stranger.subject, 0) == []
