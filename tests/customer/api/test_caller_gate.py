"""A departed or absent member of staff can do nothing (issue 8, item 7): once the
associate service's event reaches the directory, every RPC of the customer service
refuses her token within seconds (the caller gate), as it refuses a token of her former
store or role. Staff the directory does not know yet keep today's behaviour."""

from __future__ import annotations

import time

import grpc
import pytest

from atelier.customer.v1 import customer_service_pb2 as api
from atelier.customer.v1 import purchase_service_pb2 as papi
from atelier.customer.v1 import timeline_service_pb2 as tapi
from atelier.events.v1 import associate_events_pb2 as ev
from servicekit import event_types
from servicekit.auth import SYSTEM
from servicekit.callers import CallerGate
from servicekit.errors import PermissionDenied
from servicekit.uow import Transactions
from services.customer.usecases.directory import standings
from tests.conftest import associate, hq
from tests.customer.support import (
    TIMEOUT,
    create,
    error_info,
    eventually,
    get,
    known_staff,
    known_store,
    line,
    md,
    publish,
    purchase,
    record,
    staff_principal,
    uid,
)

# Event delivery plus the gate's cache (at most 2 s): "within seconds".
WITHIN_SECONDS = 5.0


async def refusal(awaitable) -> str:
    """The reason of the call's PERMISSION_DENIED, or "" when it succeeds."""
    try:
        await awaitable
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.PERMISSION_DENIED, f"{exc.code()}: {exc.details()}"
        return error_info(exc).reason
    return ""


async def announce(service, store: str, associate_id: str, **fields: str) -> None:
    """The associate service's associate_updated event for her, on the bus."""
    name = f"associates/{associate_id}"
    fields.setdefault("role", "associate")
    fields.setdefault("status", "active")
    changed = ev.AssociateChanged(associate=name, store=store, **fields)
    await publish(service, event_types.ASSOCIATE_UPDATED, changed, name)


async def test_a_departed_associate_can_do_nothing_within_seconds(
    customer_service, customer_stub, purchase_stub, timeline_stub
):
    store = await known_store(customer_service)
    her = await known_staff(customer_service, store)
    client = await create(customer_stub, her)
    assert (await get(customer_stub, client.name, her)).name == client.name

    name = f"associates/{her.associate_id}"
    departed_at = time.monotonic()
    await publish(
        customer_service, event_types.ASSOCIATE_DEPARTED, ev.AssociateDeparted(associate=name, store=store), name
    )

    async def refused() -> bool:
        return await refusal(create(customer_stub, her)) == "CALLER_INACTIVE"

    await eventually(refused, f"{name}'s token refused after her departure", WITHIN_SECONDS)
    assert time.monotonic() - departed_at < WITHIN_SECONDS
    as_her = md(her)
    for call in (
        customer_stub.GetCustomer(api.GetCustomerRequest(name=client.name), metadata=as_her, timeout=TIMEOUT),
        customer_stub.ListCustomers(api.ListCustomersRequest(), metadata=as_her, timeout=TIMEOUT),
        customer_stub.SearchCustomers(api.SearchCustomersRequest(query="laurent"), metadata=as_her, timeout=TIMEOUT),
        record(purchase_stub, client.name, purchase(line("A", "10"), store=store), her),
        purchase_stub.ListPurchases(papi.ListPurchasesRequest(parent=client.name), metadata=as_her, timeout=TIMEOUT),
        timeline_stub.ListTimeline(tapi.ListTimelineRequest(parent=client.name), metadata=as_her, timeout=TIMEOUT),
    ):
        assert await refusal(call) == "CALLER_INACTIVE"
    # Her client is still there for everyone else.
    assert (await get(customer_stub, client.name)).name == client.name


async def test_an_associate_on_leave_is_refused_until_she_is_back(customer_service, customer_stub):
    store = await known_store(customer_service)
    her = await known_staff(customer_service, store)
    await announce(customer_service, store, her.associate_id, status="on_leave")

    async def refused() -> bool:
        return await refusal(create(customer_stub, her)) == "CALLER_INACTIVE"

    await eventually(refused, "refused on leave", WITHIN_SECONDS)
    await announce(customer_service, store, her.associate_id, status="active")

    async def back() -> bool:
        return await refusal(create(customer_stub, her)) == ""

    await eventually(back, "let in once active again", WITHIN_SECONDS)


async def test_a_token_of_her_former_store_or_role_is_refused(customer_service, customer_stub):
    paris, lyon = await known_store(customer_service), await known_store(customer_service)
    her = await known_staff(customer_service, paris, role="manager")
    await announce(customer_service, lyon, her.associate_id, role="manager")

    async def moved() -> bool:
        return await refusal(create(customer_stub, her)) == "CALLER_STORE_CHANGED"

    await eventually(moved, "her Paris token refused once she works in Lyon", WITHIN_SECONDS)
    assert await refusal(create(customer_stub, staff_principal(lyon, her.associate_id, "manager"))) == ""

    await announce(customer_service, lyon, her.associate_id, role="associate")

    async def demoted() -> bool:
        return await refusal(create(customer_stub, staff_principal(lyon, her.associate_id, "manager"))) == (
            "CALLER_ROLE_CHANGED"
        )

    await eventually(demoted, "her manager token refused once she is an associate", WITHIN_SECONDS)
    assert await refusal(create(customer_stub, staff_principal(lyon, her.associate_id))) == ""


async def test_staff_the_directory_does_not_know_and_services_pass(customer_service, customer_stub):
    store = await known_store(customer_service)
    newcomer = associate(store, f"a-{uid()}")
    assert (await create(customer_stub, newcomer)).home_store == store
    assert (await create(customer_stub, SYSTEM, home_store=store)).home_store == store
    assert (await create(customer_stub, hq(), home_store=store)).home_store == store


async def test_the_gate_keeps_a_standing_at_most_its_ttl(customer_service):
    store = await known_store(customer_service)
    her = await known_staff(customer_service, store)
    now = [100.0]
    gate = CallerGate(standings(Transactions(customer_service.runtime.engine)), ttl=1.0, clock=lambda: now[0])
    await gate(her)
    await known_staff(
        customer_service,
        store,
        associate_id=her.associate_id,
        status="departed",
        event_type=event_types.ASSOCIATE_UPDATED,
    )
    now[0] += 0.5
    await gate(her)  # within the ttl: the cached standing
    now[0] += 0.6
    with pytest.raises(PermissionDenied) as caught:
        await gate(her)
    assert caught.value.reason == "CALLER_INACTIVE"
    # An HQ member of staff who left is refused too; a token without an associate id is not gated.
    leaver = await known_staff(customer_service, "", role="hq", status="departed")
    with pytest.raises(PermissionDenied) as caught:
        await gate(leaver)
    assert caught.value.reason == "CALLER_INACTIVE"
    await gate(hq())
