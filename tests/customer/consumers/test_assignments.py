"""The `assignments` consumer: who holds a customer follows the associate service's
assignment_changed events, and with it which associates reach her. Events are applied
through the handler as the inbox applies them (one unit of work acting as the platform)."""

from __future__ import annotations

import grpc
import pytest

from atelier.events.v1 import associate_events_pb2 as ev
from servicekit import event_types
from servicekit.auth import SYSTEM
from servicekit.events import new_envelope
from servicekit.inbox import PoisonEvent
from servicekit.uow import in_unit_of_work
from services.customer.consumers import assignments
from tests.conftest import associate
from tests.customer.support import create, get, known_store, uid

PRIMARY, SECONDARY = ev.ASSIGNMENT_ROLE_PRIMARY, ev.ASSIGNMENT_ROLE_SECONDARY


async def apply(service, customer: str, role: int, previous: str = "", holder: str = "") -> None:
    change = ev.AssignmentChanged(
        customer=customer,
        role=role,
        previous_associate=f"associates/{previous}" if previous else "",
        associate=f"associates/{holder}" if holder else "",
    )
    envelope = new_envelope(
        event_type=event_types.ASSIGNMENT_CHANGED, source="associate", subject=customer, payload=change, actor="test"
    )
    assert envelope.type in assignments.EVENT_TYPES
    async with service.runtime.engine.begin() as conn:
        await in_unit_of_work(conn, SYSTEM, lambda uow: assignments.handle(uow, envelope))


async def reaches(stub, name: str, store: str, associate_id: str) -> bool:
    try:
        await get(stub, name, associate(store, associate_id))
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.PERMISSION_DENIED
        return False
    return True


async def test_primary_and_secondary_holders_reach_her_and_lose_her_when_replaced(customer_service, customer_stub):
    store = await known_store(customer_service)
    customer = await create(customer_stub, home_store=store)
    first, second, helper = f"a-{uid()}", f"a-{uid()}", f"a-{uid()}"
    assert not await reaches(customer_stub, customer.name, store, first)

    await apply(customer_service, customer.name, PRIMARY, holder=first)
    assert await reaches(customer_stub, customer.name, store, first)

    await apply(customer_service, customer.name, PRIMARY, previous=first, holder=second)
    assert not await reaches(customer_stub, customer.name, store, first)
    assert await reaches(customer_stub, customer.name, store, second)

    await apply(customer_service, customer.name, SECONDARY, holder=helper)
    assert await reaches(customer_stub, customer.name, store, helper)
    await apply(customer_service, customer.name, SECONDARY, previous=helper)
    assert not await reaches(customer_stub, customer.name, store, helper)
    assert await reaches(customer_stub, customer.name, store, second)


async def test_a_provisional_holder_keeps_her_customer_until_someone_is_named(customer_service, customer_stub):
    store, creator = await known_store(customer_service), f"a-{uid()}"
    customer = await create(customer_stub, associate(store, creator), home_store=store)
    assert await reaches(customer_stub, customer.name, store, creator)
    await apply(customer_service, customer.name, PRIMARY)  # to nobody, naming no one
    assert await reaches(customer_stub, customer.name, store, creator)
    other = f"a-{uid()}"
    await apply(customer_service, customer.name, PRIMARY, holder=other)
    assert not await reaches(customer_stub, customer.name, store, creator)
    assert await reaches(customer_stub, customer.name, store, other)


@pytest.mark.parametrize(
    ("customer", "role", "holder"),
    [
        ("customers/c-123", ev.ASSIGNMENT_ROLE_UNSPECIFIED, "a-1"),
        ("people/c-123", PRIMARY, "a-1"),
    ],
)
async def test_an_event_that_cannot_apply_is_poison(customer_service, customer, role, holder):
    with pytest.raises(PoisonEvent):
        await apply(customer_service, customer, role, holder=holder)
