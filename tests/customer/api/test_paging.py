"""ListCustomers filters and keyset paging; paging of consent history and notes."""

from __future__ import annotations

import base64
import json
import uuid

import grpc
import pytest

from atelier.common.v1 import common_pb2
from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from tests.conftest import associate, hq
from tests.customer.support import TIMEOUT, bad_fields, create, known_store, md, rpc_error


async def list_all(stub, flt: str, page_size: int, principal=None, between_pages=None) -> tuple[list[str], int]:
    names, token, pages = [], "", 0
    while True:
        reply = await stub.ListCustomers(
            api.ListCustomersRequest(filter=flt, page_size=page_size, page_token=token),
            metadata=md(principal or hq()),
            timeout=TIMEOUT,
        )
        pages += 1
        assert len(reply.customers) <= page_size
        names += [c.name for c in reply.customers]
        token = reply.next_page_token
        if not token:
            return names, pages
        if between_pages is not None:
            await between_pages()


async def test_page_walk_returns_every_item_exactly_once(customer_service, customer_stub):
    store = await known_store(customer_service)
    made = [(await create(customer_stub, home_store=store, family_name=f"P{i}")).name for i in range(7)]
    names, pages = await list_all(customer_stub, f'home_store = "{store}"', page_size=3)
    assert names == made
    assert pages == 3


async def test_exact_multiple_of_page_size_ends_without_an_empty_page(customer_service, customer_stub):
    store = await known_store(customer_service)
    made = [(await create(customer_stub, home_store=store)).name for _ in range(4)]
    names, pages = await list_all(customer_stub, f'home_store = "{store}"', page_size=2)
    assert names == made and pages == 2


async def test_page_walk_is_stable_while_customers_are_added(customer_service, customer_stub):
    store = await known_store(customer_service)
    made = [(await create(customer_stub, home_store=store, tier=customer_pb2.TIER_VIP)).name for _ in range(6)]
    added: list[str] = []

    async def insert_more():
        added.append((await create(customer_stub, home_store=store, tier=customer_pb2.TIER_VIP)).name)
        # Not matching the filter: must never show up.
        await create(customer_stub, home_store=store, tier=customer_pb2.TIER_CLIENT)

    names, _ = await list_all(
        customer_stub, f'home_store = "{store}" AND tier = TIER_VIP', 2, between_pages=insert_more
    )
    assert len(names) == len(set(names))
    assert names[: len(made)] == made  # every original, in order, once
    assert set(names) <= set(made) | set(added)
    # New customers sort after the old ones, so the walk picks them up as it goes.
    assert names[len(made) :] == added[: len(names) - len(made)]


async def test_page_token_is_bound_to_its_filter(customer_service, customer_stub):
    store = await known_store(customer_service)
    for _ in range(3):
        await create(customer_stub, home_store=store)
    first = await customer_stub.ListCustomers(
        api.ListCustomersRequest(filter=f'home_store = "{store}"', page_size=1), metadata=md(hq()), timeout=TIMEOUT
    )
    assert first.next_page_token
    exc = await rpc_error(
        customer_stub.ListCustomers(
            api.ListCustomersRequest(filter="tier = TIER_VIP", page_size=1, page_token=first.next_page_token),
            metadata=md(hq()),
            timeout=TIMEOUT,
        )
    )
    assert bad_fields(exc) == ["page_token"]
    # The page size may change between pages (AIP-158).
    rest = await customer_stub.ListCustomers(
        api.ListCustomersRequest(filter=f'home_store = "{store}"', page_size=10, page_token=first.next_page_token),
        metadata=md(hq()),
        timeout=TIMEOUT,
    )
    assert len(rest.customers) == 2 and not rest.next_page_token


def _forged(position, query: str) -> str:
    import hashlib

    raw = json.dumps({"p": position, "q": hashlib.sha256(query.encode()).hexdigest()[:16]})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize("position", [[1], "x", ["not a time", "id"], [None, None, None], {"a": 1}])
async def test_malformed_page_position_is_invalid_argument(customer_service, customer_stub, position):
    flt = f'home_store = "{await known_store(customer_service)}"'
    exc = await rpc_error(
        customer_stub.ListCustomers(
            api.ListCustomersRequest(filter=flt, page_token=_forged(position, flt)), metadata=md(hq()), timeout=TIMEOUT
        )
    )
    assert bad_fields(exc) == ["page_token"]


async def test_page_size_is_capped_at_200_and_defaults_to_50(customer_service, customer_stub):
    import asyncio

    store = await known_store(customer_service)
    for start in range(0, 201, 20):
        await asyncio.gather(*(create(customer_stub, home_store=store) for _ in range(start, min(start + 20, 201))))
    flt = f'home_store = "{store}"'
    capped = await customer_stub.ListCustomers(
        api.ListCustomersRequest(filter=flt, page_size=10_000), metadata=md(hq()), timeout=TIMEOUT
    )
    assert len(capped.customers) == 200 and capped.next_page_token
    default = await customer_stub.ListCustomers(
        api.ListCustomersRequest(filter=flt), metadata=md(hq()), timeout=TIMEOUT
    )
    assert len(default.customers) == 50 and default.next_page_token


async def test_filter_by_tier(customer_service, customer_stub):
    store = await known_store(customer_service)
    vip = await create(customer_stub, home_store=store, tier=customer_pb2.TIER_VIP)
    vvip = await create(customer_stub, home_store=store, tier=customer_pb2.TIER_VVIP)
    await create(customer_stub, home_store=store)
    names, _ = await list_all(customer_stub, f'tier = TIER_VIP AND home_store = "{store}"', 50)
    assert names == [vip.name]
    names, _ = await list_all(customer_stub, f'home_store = "{store}" AND tier = vvip', 50)
    assert names == [vvip.name]


async def test_filter_by_home_store(customer_service, customer_stub):
    paris, lyon = await known_store(customer_service), await known_store(customer_service)
    a = await create(customer_stub, home_store=paris)
    b = await create(customer_stub, home_store=lyon)
    assert (await list_all(customer_stub, f'home_store = "{paris}"', 50))[0] == [a.name]
    assert (await list_all(customer_stub, f"home_store = {lyon}", 50))[0] == [b.name]


async def test_filter_by_tags_needs_every_tag(customer_service, customer_stub):
    store = await known_store(customer_service)
    both = await create(customer_stub, home_store=store, tags=["press", "vip"])
    press = await create(customer_stub, home_store=store, tags=["press"])
    await create(customer_stub, home_store=store, tags=["vip"])
    base = f'home_store = "{store}"'
    assert (await list_all(customer_stub, f'{base} AND tags:"press"', 50))[0] == [both.name, press.name]
    assert (await list_all(customer_stub, f'{base} AND tags:"PRESS" AND tags:vip', 50))[0] == [both.name]
    assert (await list_all(customer_stub, f'{base} AND tags:"absent"', 50))[0] == []


async def test_list_as_associate_only_shows_her_clients(customer_service, customer_stub):
    mine, other = await known_store(customer_service), await known_store(customer_service)
    me = associate(mine, f"a-{uuid.uuid4().hex[:10]}")
    a = await create(customer_stub, me, home_store=mine)
    await create(customer_stub, home_store=mine)  # her store's, but not hers
    await create(customer_stub, home_store=other)
    names, _ = await list_all(customer_stub, "", 200, principal=me)
    assert names == [a.name]
    # Asking for another store through the filter shows nothing rather than leaking it.
    names, _ = await list_all(customer_stub, f'home_store = "{other}"', 50, principal=me)
    assert names == []


async def test_consent_history_pages(customer_service, customer_stub):
    target = await create(customer_stub, home_store=await known_store(customer_service))
    for i in range(5):
        method = customer_stub.GrantConsent if i % 2 == 0 else customer_stub.WithdrawConsent
        request_type = api.GrantConsentRequest if i % 2 == 0 else api.WithdrawConsentRequest
        await method(
            request_type(
                name=target.name, channel=common_pb2.CHANNEL_EMAIL, purpose=common_pb2.PURPOSE_MARKETING, source=f"s{i}"
            ),
            metadata=md(hq()),
            timeout=TIMEOUT,
        )
    sources, token = [], ""
    while True:
        reply = await customer_stub.ListConsentChanges(
            api.ListConsentChangesRequest(parent=target.name, page_size=2, page_token=token),
            metadata=md(hq()),
            timeout=TIMEOUT,
        )
        sources += [c.source for c in reply.consent_changes]
        token = reply.next_page_token
        if not token:
            break
    assert sources == ["s4", "s3", "s2", "s1", "s0"]


async def test_notes_page(customer_service, customer_stub):
    target = await create(customer_stub, home_store=await known_store(customer_service))
    for i in range(5):
        await customer_stub.CreateNote(
            api.CreateNoteRequest(parent=target.name, note=customer_pb2.Note(text=f"note {i}")),
            metadata=md(hq()),
            timeout=TIMEOUT,
        )
    texts, token = [], ""
    while True:
        reply = await customer_stub.ListNotes(
            api.ListNotesRequest(parent=target.name, page_size=2, page_token=token), metadata=md(hq()), timeout=TIMEOUT
        )
        texts += [n.text for n in reply.notes]
        token = reply.next_page_token
        if not token:
            break
    assert texts == [f"note {i}" for i in reversed(range(5))]


async def test_a_page_token_of_one_collection_is_refused_by_another(customer_service, customer_stub):
    target = await create(customer_stub, home_store=await known_store(customer_service))
    for i in range(2):
        await customer_stub.CreateNote(
            api.CreateNoteRequest(parent=target.name, note=customer_pb2.Note(text=f"n{i}")),
            metadata=md(hq()),
            timeout=TIMEOUT,
        )
        await customer_stub.GrantConsent(
            api.GrantConsentRequest(
                name=target.name, channel=common_pb2.CHANNEL_SMS, purpose=common_pb2.PURPOSE_SERVICE, source="x"
            ),
            metadata=md(hq()),
            timeout=TIMEOUT,
        )
    notes = await customer_stub.ListNotes(
        api.ListNotesRequest(parent=target.name, page_size=1), metadata=md(hq()), timeout=TIMEOUT
    )
    consents = await customer_stub.ListConsentChanges(
        api.ListConsentChangesRequest(parent=target.name, page_size=1), metadata=md(hq()), timeout=TIMEOUT
    )
    assert notes.next_page_token and consents.next_page_token
    exc = await rpc_error(
        customer_stub.ListConsentChanges(
            api.ListConsentChangesRequest(parent=target.name, page_token=notes.next_page_token),
            metadata=md(hq()),
            timeout=TIMEOUT,
        )
    )
    assert bad_fields(exc) == ["page_token"]
    exc = await rpc_error(
        customer_stub.ListNotes(
            api.ListNotesRequest(parent=target.name, page_token=consents.next_page_token),
            metadata=md(hq()),
            timeout=TIMEOUT,
        )
    )
    assert bad_fields(exc) == ["page_token"]


async def test_a_page_token_of_one_customer_is_refused_for_another(customer_service, customer_stub):
    a = await create(customer_stub, home_store=await known_store(customer_service))
    b = await create(customer_stub, home_store=await known_store(customer_service))
    for _ in range(2):
        await customer_stub.CreateNote(
            api.CreateNoteRequest(parent=a.name, note=customer_pb2.Note(text="n")), metadata=md(hq()), timeout=TIMEOUT
        )
    page = await customer_stub.ListNotes(
        api.ListNotesRequest(parent=a.name, page_size=1), metadata=md(hq()), timeout=TIMEOUT
    )
    exc = await rpc_error(
        customer_stub.ListNotes(
            api.ListNotesRequest(parent=b.name, page_token=page.next_page_token), metadata=md(hq()), timeout=TIMEOUT
        )
    )
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(exc) == ["page_token"]
