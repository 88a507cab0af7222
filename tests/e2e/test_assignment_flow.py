"""Assignment across services: the associate service binds customers from the customer
service's events, and the customer service scopes associates to the customers they hold
(learnt from assignment_changed events) — over gRPC and over HTTP through the gateway."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from google.protobuf import field_mask_pb2

from atelier.associate.v1 import associate_pb2, associate_service_pb2_grpc, store_pb2
from atelier.associate.v1 import associate_service_pb2 as aapi
from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import customer_service_pb2 as capi
from tests.conftest import (
    associate,
    bearer,
    hq,
    manager,
    metadata_for,
    running_gateway,
    start_service,
)

TIMEOUT = 10


@pytest.fixture(scope="module")
def flow_bus(infra):
    """The two services of this module share an event bus no other service uses, so no
    other associate service in the session assigns these customers."""
    return infra.private_bus("flow")


@pytest.fixture(scope="module")
async def customer_service(infra, flow_bus):
    from services.customer.app import build

    running = await start_service(build, infra.service_config("flowcustomer", **flow_bus))
    yield running
    await running.runtime.stop()


@pytest.fixture(scope="module")
async def customer_stub(customer_service):
    from atelier.customer.v1 import customer_service_pb2_grpc

    channel = customer_service.channel()
    yield customer_service_pb2_grpc.CustomerServiceStub(channel)
    await channel.close()


@pytest.fixture(scope="module")
async def associates(infra, flow_bus):
    """An associate service of its own (own database and durable consumers)."""
    from services.associate.app import build

    running = await start_service(build, infra.service_config("assocflow", **flow_bus))
    channel = running.channel()
    stub = associate_service_pb2_grpc.AssociateServiceStub(channel)
    stub.address = running.address
    yield stub
    await channel.close()
    await running.runtime.stop()


@pytest.fixture(scope="module")
async def gateway(customer_service, associates):
    async with running_gateway({"customer": customer_service.address, "associate": associates.address}) as client:
        yield client


def uid() -> str:
    return uuid.uuid4().hex[:10]


async def eventually(probe, attempts: int = 300, delay: float = 0.05):
    for _ in range(attempts):
        value = await probe()
        if value:
            return value
        await asyncio.sleep(delay)
    raise AssertionError("the expected effect never appeared")


async def setup_store(associates, n: int = 2):
    store = await associates.CreateStore(
        aapi.CreateStoreRequest(
            store=store_pb2.Store(code=f"F-{uid()}", display_name="Ginza", time_zone="Asia/Tokyo"),
            store_id=f"s-{uid()}",
        ),
        metadata=metadata_for(hq()),
        timeout=TIMEOUT,
    )
    staff = []
    for _ in range(n):
        staff.append(
            await associates.CreateAssociate(
                aapi.CreateAssociateRequest(
                    associate=associate_pb2.Associate(
                        store=store.name, display_name="Aiko", role=associate_pb2.STAFF_ROLE_ASSOCIATE, capacity=50
                    ),
                    associate_id=f"a-{uid()}",
                ),
                metadata=metadata_for(hq()),
                timeout=TIMEOUT,
            )
        )
    return store, staff


def principal_of(store, staff_member):
    return associate(store.name, staff_member.name.split("/")[1])


async def can_read(customer_stub, name: str, principal) -> bool:
    try:
        await customer_stub.GetCustomer(
            capi.GetCustomerRequest(name=name), metadata=metadata_for(principal), timeout=TIMEOUT
        )
        return True
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.PERMISSION_DENIED, exc.details()
        return False


async def primary_of(associates, customer_name: str) -> str:
    """Her primary associate per the associate service; '' until the event is handled."""
    try:
        got = await associates.GetCustomerAssignment(
            aapi.GetCustomerAssignmentRequest(name=f"{customer_name}/assignment"),
            metadata=metadata_for(hq()),
            timeout=TIMEOUT,
        )
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.NOT_FOUND, exc.details()
        return ""
    return got.primary_associate


async def referred_customer(customer_stub, store, referrer) -> customer_pb2.Customer:
    return await customer_stub.CreateCustomer(
        capi.CreateCustomerRequest(
            customer=customer_pb2.Customer(
                given_name="Mei",
                family_name=f"Tanaka{uid()}",
                home_store=store.name,
                referral_code=referrer.referral_code,
            )
        ),
        metadata=metadata_for(hq()),
        timeout=TIMEOUT,
    )


async def test_qr_referral_binds_and_the_customer_service_learns_it(customer_stub, associates):
    store, (aiko, yui) = await setup_store(associates)
    customer = await referred_customer(customer_stub, store, aiko)

    async def bound():
        return await primary_of(associates, customer.name) == aiko.name

    await eventually(bound)
    got = await associates.GetCustomerAssignment(
        aapi.GetCustomerAssignmentRequest(name=f"{customer.name}/assignment"),
        metadata=metadata_for(hq()),
        timeout=TIMEOUT,
    )
    assert got.reason == 1  # ASSIGNMENT_REASON_REFERRAL
    assert await eventually(lambda: can_read(customer_stub, customer.name, principal_of(store, aiko)))
    assert not await can_read(customer_stub, customer.name, principal_of(store, yui))
    # Her store's manager still reaches her.
    assert await can_read(customer_stub, customer.name, manager(store.name))


async def test_an_associate_cannot_read_update_or_list_a_colleagues_client_over_grpc(customer_stub, associates):
    store, (aiko, yui) = await setup_store(associates)
    hers = await referred_customer(customer_stub, store, aiko)
    theirs = await referred_customer(customer_stub, store, yui)
    me = principal_of(store, aiko)
    await eventually(lambda: can_read(customer_stub, hers.name, me))
    await eventually(lambda: can_read(customer_stub, theirs.name, principal_of(store, yui)))

    assert not await can_read(customer_stub, theirs.name, me)
    update = capi.UpdateCustomerRequest(
        customer=customer_pb2.Customer(name=theirs.name, tier=customer_pb2.TIER_VIP),
        update_mask=field_mask_pb2.FieldMask(paths=["tier"]),
    )
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await customer_stub.UpdateCustomer(update, metadata=metadata_for(me), timeout=TIMEOUT)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    listed = await customer_stub.ListCustomers(
        capi.ListCustomersRequest(page_size=200), metadata=metadata_for(me), timeout=TIMEOUT
    )
    assert [c.name for c in listed.customers] == [hers.name]
    found = await customer_stub.SearchCustomers(
        capi.SearchCustomersRequest(query=theirs.family_name), metadata=metadata_for(me), timeout=TIMEOUT
    )
    assert theirs.name not in [r.customer.name for r in found.results]


async def test_an_associate_cannot_read_update_or_list_a_colleagues_client_over_http(
    customer_stub, associates, gateway
):
    store, (aiko, yui) = await setup_store(associates)
    hers = await referred_customer(customer_stub, store, aiko)
    theirs = await referred_customer(customer_stub, store, yui)
    await eventually(lambda: can_read(customer_stub, hers.name, principal_of(store, aiko)))
    await eventually(lambda: can_read(customer_stub, theirs.name, principal_of(store, yui)))
    me = bearer("associate", store=store.name, associate_id=aiko.name.split("/")[1], subject=aiko.name)

    assert (await gateway.get(f"/v1/{hers.name}", headers=me)).status_code == 200
    read = await gateway.get(f"/v1/{theirs.name}", headers=me)
    assert read.status_code == 403 and read.json()["error"]["status"] == "PERMISSION_DENIED"
    patched = await gateway.patch(
        f"/v1/{theirs.name}", params={"update_mask": "tier"}, json={"tier": "TIER_VIP"}, headers=me
    )
    assert patched.status_code == 403
    listed = await gateway.get("/v1/customers", params={"page_size": 200}, headers=me)
    assert [c["name"] for c in listed.json()["customers"]] == [hers.name]
    # Her client book over HTTP, and not her colleague's.
    book = await gateway.get(f"/v1/{aiko.name}/book", headers=me)
    assert book.status_code == 200, book.text
    assert [e["customer"] for e in book.json()["entries"]] == [hers.name]
    assert (await gateway.get(f"/v1/{yui.name}/book", headers=me)).status_code == 403
    # The store's view is the manager's, not hers.
    boss = bearer("manager", store=store.name)
    whole = await gateway.get(f"/v1/{store.name}/book", params={"order_by": "lifetime_value desc"}, headers=boss)
    assert whole.status_code == 200, whole.text
    assert {e["customer"] for e in whole.json()["entries"]} == {hers.name, theirs.name}
    assert (await gateway.get(f"/v1/{store.name}/book", headers=me)).status_code == 403


async def test_a_customer_created_on_her_tablet_is_hers_at_once_and_stays_hers(customer_stub, associates):
    store, (aiko, yui) = await setup_store(associates)
    me = principal_of(store, aiko)
    created = await customer_stub.CreateCustomer(
        capi.CreateCustomerRequest(customer=customer_pb2.Customer(given_name="Rin", family_name=f"Sato{uid()}")),
        metadata=metadata_for(me),
        timeout=TIMEOUT,
    )
    assert created.home_store == store.name
    assert await can_read(customer_stub, created.name, me)  # before any event round trip

    async def confirmed():
        return await primary_of(associates, created.name) == aiko.name

    await eventually(confirmed)
    assert await can_read(customer_stub, created.name, me)
    assert not await can_read(customer_stub, created.name, principal_of(store, yui))


async def test_hand_over_moves_access_in_the_customer_service(customer_stub, associates):
    store, (aiko, yui) = await setup_store(associates)
    customer = await referred_customer(customer_stub, store, aiko)
    await eventually(lambda: can_read(customer_stub, customer.name, principal_of(store, aiko)))
    await associates.DepartAssociate(
        aapi.DepartAssociateRequest(name=aiko.name, successor=yui.name),
        metadata=metadata_for(manager(store.name)),
        timeout=TIMEOUT,
    )
    assert await eventually(lambda: can_read(customer_stub, customer.name, principal_of(store, yui)))
    assert not await can_read(customer_stub, customer.name, principal_of(store, aiko))
