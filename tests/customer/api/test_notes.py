"""Associate notes about a customer."""

from __future__ import annotations

from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from tests.conftest import associate, hq, manager
from tests.customer.support import TIMEOUT, create, known_store, md


async def add_note(stub, parent, text, principal=None):
    return await stub.CreateNote(
        api.CreateNoteRequest(parent=parent, note=customer_pb2.Note(text=text)),
        metadata=md(principal or hq()),
        timeout=TIMEOUT,
    )


async def test_create_and_list_notes_newest_first(customer_service, customer_stub):
    store = await known_store(customer_service)
    clerk, boss = associate(store), manager(store)
    target = await create(customer_stub, clerk, home_store=store)  # she holds her own client
    first = await add_note(customer_stub, target.name, "  Prefers yellow gold; ring size 52. ", clerk)
    assert first.name.startswith(target.name + "/notes/")
    assert first.text == "Prefers yellow gold; ring size 52."
    assert first.author == clerk.subject
    assert first.create_time.seconds > 0
    second = await add_note(customer_stub, target.name, "Daughter graduates in June — 日本語も話す", boss)
    assert second.author == boss.subject
    reply = await customer_stub.ListNotes(api.ListNotesRequest(parent=target.name), metadata=md(clerk), timeout=TIMEOUT)
    assert list(reply.notes) == [second, first]
    assert reply.next_page_token == ""


async def test_notes_belong_to_their_customer(customer_service, customer_stub):
    store = await known_store(customer_service)
    a = await create(customer_stub, home_store=store)
    b = await create(customer_stub, home_store=store)
    await add_note(customer_stub, a.name, "about a")
    reply = await customer_stub.ListNotes(api.ListNotesRequest(parent=b.name), metadata=md(hq()), timeout=TIMEOUT)
    assert list(reply.notes) == []


async def test_a_note_does_not_change_the_customer(customer_service, customer_stub):
    target = await create(customer_stub, home_store=await known_store(customer_service))
    await add_note(customer_stub, target.name, "hello")
    again = await customer_stub.GetCustomer(
        api.GetCustomerRequest(name=target.name), metadata=md(hq()), timeout=TIMEOUT
    )
    assert again == target


async def test_longest_note_is_accepted(customer_service, customer_stub):
    target = await create(customer_stub, home_store=await known_store(customer_service))
    note = await add_note(customer_stub, target.name, "x" * 4000)
    assert len(note.text) == 4000
