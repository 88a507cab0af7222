"""Across services: purchases recorded in the customer service open follow-up tasks and
are attributed in the associate service (real events through the outbox, the stream and
the inbox)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.type import money_pb2

from atelier.customer.v1 import customer_pb2, purchase_pb2, purchase_service_pb2, purchase_service_pb2_grpc
from atelier.customer.v1 import customer_service_pb2 as customer_api

from ..support import TIMEOUT, aid, eventually, hq_p, make_associate, make_store, md, ts, wait_for

ATTRIBUTION = "SELECT associate_id, basis, customer_created, amount, currency FROM attributions WHERE purchase = %s"
TASK = "SELECT rule, associate_id, store_id FROM tasks WHERE trigger_resource = %s"


@pytest.fixture
async def purchase_stub(customer_service, tasks_service):
    channel = customer_service.channel()
    yield purchase_service_pb2_grpc.PurchaseServiceStub(channel)
    await channel.close()


async def create(stub, principal, **fields) -> customer_pb2.Customer:
    """A customer created through the customer service."""
    customer = customer_pb2.Customer(given_name="Hélène", family_name="Laurent", locale="fr-FR", **fields)
    return await stub.CreateCustomer(
        customer_api.CreateCustomerRequest(customer=customer), metadata=md(principal), timeout=TIMEOUT
    )


def _purchase(store: str, assisting: str = "", amount: int = 1200) -> purchase_pb2.Purchase:
    purchase = purchase_pb2.Purchase(
        channel=purchase_pb2.SALES_CHANNEL_STORE,
        order_id=f"o-{uuid.uuid4().hex[:10]}",
        store=f"stores/{store}",
        assisting_associate=f"associates/{assisting}" if assisting else "",
        order_time=ts(datetime.now(UTC) - timedelta(minutes=5)),
    )
    purchase.lines.add(sku="ring-1", quantity=1, unit_price=money_pb2.Money(currency_code="EUR", units=amount))
    return purchase


async def _store_the_customer_service_knows(directory_stub, customer_stub) -> tuple[str, str, customer_pb2.Customer]:
    """A store (bare id) with one associate (bare id), made through the API, and a customer
    of it: the customer service learns of the store from its event (a customer's home
    store must exist)."""
    made = await make_store(directory_stub)
    a1 = aid(await make_associate(directory_stub, made.name))

    async def known() -> customer_pb2.Customer | None:
        try:
            return await create(customer_stub, hq_p(), home_store=made.name)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise
            return None

    return made.name.split("/")[1], a1, await eventually(known)


async def test_recorded_purchases_open_tasks_and_are_attributed(customer_stub, purchase_stub, tasks_directory_stub, db):
    store, a1, known = await _store_the_customer_service_knows(tasks_directory_stub, customer_stub)
    recorded = await purchase_stub.RecordPurchase(
        purchase_service_pb2.RecordPurchaseRequest(customer=known.name, purchase=_purchase(store, assisting=a1)),
        metadata=md(hq_p()),
        timeout=TIMEOUT,
    )
    ((associate, basis, created, amount, currency),) = await wait_for(db, ATTRIBUTION, (recorded.name,))
    assert (associate, basis, created, int(amount), currency) == (a1, 1, False, 1200, "EUR")
    ((rule, _, task_store),) = await wait_for(db, TASK, (recorded.name,))
    assert (rule, task_store) == ("follow_up_purchase", store)

    # An unknown client at the till: created by the purchase, counted as such.
    phone = f"+3361{random.randrange(10**7):07d}"
    walk_in = await purchase_stub.RecordPurchase(
        purchase_service_pb2.RecordPurchaseRequest(
            contact_points=[customer_pb2.ContactPoint(kind=customer_pb2.CONTACT_KIND_PHONE, value=phone)],
            given_name="Mei",
            purchase=_purchase(store, amount=300),
        ),
        metadata=md(hq_p()),
        timeout=TIMEOUT,
    )
    ((associate, basis, created, _, _),) = await wait_for(db, ATTRIBUTION, (walk_in.name,))
    assert (associate, basis, created) == ("", 3, True)
    await wait_for(db, TASK, (walk_in.name,))
