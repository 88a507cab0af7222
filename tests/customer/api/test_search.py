"""SearchCustomers: names, e-mail and phone fragments, best match first, within the
caller's reach."""

from __future__ import annotations

from atelier.customer.v1 import customer_service_pb2 as api
from tests.conftest import associate, hq, manager
from tests.customer.support import (
    TIMEOUT,
    create,
    email,
    known_store,
    letters,
    md,
    phone,
    uid,
    unique_email,
    unique_phone,
)


async def search(stub, query: str, principal=None, page_size: int = 0) -> list[api.SearchResult]:
    reply = await stub.SearchCustomers(
        api.SearchCustomersRequest(query=query, page_size=page_size), metadata=md(principal or hq()), timeout=TIMEOUT
    )
    return list(reply.results)


async def test_exact_family_name_ranks_above_partial_and_fuzzy_matches(customer_service, customer_stub):
    store = await known_store(customer_service)
    word = letters(9)
    fuzzy_word = word[:-1] + ("a" if word[-1] != "a" else "e")  # a typo in the last letter
    # Created first so that an id or insertion order tie-break cannot explain the ranking.
    partial = await create(customer_stub, home_store=store, given_name="Anne", family_name=word + "ier")
    fuzzy = await create(customer_stub, home_store=store, given_name="Anne", family_name=fuzzy_word)
    exact = await create(customer_stub, home_store=store, given_name="Anne", family_name=word.capitalize())
    results = await search(customer_stub, word.capitalize(), principal=manager(store))
    names = [r.customer.name for r in results]
    assert names[0] == exact.name
    assert set(names) == {exact.name, partial.name, fuzzy.name}
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s <= 1 for s in scores)
    assert results[0].score > results[1].score
    assert names.index(partial.name) < names.index(fuzzy.name)
    # Results are full customers.
    assert results[0].customer.family_name == word.capitalize()
    assert results[0].customer.etag == exact.etag


async def test_given_name_and_preferred_name_are_searched(customer_service, customer_stub):
    store = await known_store(customer_service)
    given, preferred = letters(8), letters(8)
    target = await create(
        customer_stub, home_store=store, given_name=given, family_name="Laurent", preferred_name=f"Mme {preferred}"
    )
    assert [r.customer.name for r in await search(customer_stub, given, manager(store))] == [target.name]
    assert [r.customer.name for r in await search(customer_stub, preferred.upper(), manager(store))] == [target.name]


async def test_email_fragment_finds_the_customer(customer_service, customer_stub):
    store = await known_store(customer_service)
    typed, normal = unique_email()
    target = await create(customer_stub, home_store=store, contact_points=[email(typed)])
    await create(customer_stub, home_store=store, family_name="Someone Else")
    local = normal.split("@")[0]
    for query in (normal, local[-10:].upper(), typed):
        results = await search(customer_stub, query, manager(store))
        assert [r.customer.name for r in results] == [target.name], query


async def test_phone_fragment_finds_the_customer(customer_service, customer_stub):
    store = await known_store(customer_service)
    national, e164 = unique_phone("FR")
    target = await create(customer_stub, home_store=store, contact_points=[phone(national)])
    await create(customer_stub, home_store=store, contact_points=[phone(unique_phone("FR")[0])])
    digits = e164[-6:]
    spaced = " ".join(digits[i : i + 2] for i in range(0, 6, 2))  # e.g. "12 34 56"
    for query in (spaced, national, e164, "+33 " + national[1:], f"({digits[:3]}) {digits[3:]}"):
        results = await search(customer_stub, query, manager(store))
        assert [r.customer.name for r in results] == [target.name], query


async def test_search_is_scoped_to_the_managers_store_and_the_associates_book(customer_service, customer_stub):
    mine, other = await known_store(customer_service), await known_store(customer_service)
    word = letters(10)
    me, colleague = associate(mine, f"a-{letters(8)}"), associate(other, f"a-{letters(8)}")
    here = await create(customer_stub, me, home_store=mine, family_name=word)
    also_here = await create(customer_stub, home_store=mine, family_name=word)
    there = await create(customer_stub, colleague, home_store=other, family_name=word)
    assert [r.customer.name for r in await search(customer_stub, word, me)] == [here.name]
    assert {r.customer.name for r in await search(customer_stub, word, manager(mine))} == {here.name, also_here.name}
    assert [r.customer.name for r in await search(customer_stub, word, colleague)] == [there.name]
    assert {r.customer.name for r in await search(customer_stub, word, hq())} == {here.name, also_here.name, there.name}


async def test_search_page_size(customer_service, customer_stub):
    store = await known_store(customer_service)
    word = letters(10)
    for _ in range(4):
        await create(customer_stub, home_store=store, family_name=f"{word}")
    assert len(await search(customer_stub, word, manager(store))) == 4
    assert len(await search(customer_stub, word, manager(store), page_size=2)) == 2


async def test_search_without_a_match_is_empty(customer_service, customer_stub):
    assert await search(customer_stub, f"zz{uid()}qq", manager(await known_store(customer_service))) == []
