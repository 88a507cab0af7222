"""Helpers for the associate service's tests: unique stores and staff per test."""

from __future__ import annotations

import asyncio
import uuid

from google.protobuf import field_mask_pb2
from google.type import dayofweek_pb2

from atelier.associate.v1 import associate_pb2, associate_service_pb2 as api, store_pb2
from atelier.customer.v1 import customer_pb2, interaction_pb2
from atelier.events.v1 import customer_events_pb2 as cev
from servicekit.events import new_envelope
from tests.conftest import hq, metadata_for
from tests.customer.support import bad_fields, denied_reason, error_info, rpc_error  # noqa: F401

TIMEOUT = 10
ASSOCIATE = associate_pb2.StaffRole.STAFF_ROLE_ASSOCIATE
MANAGER = associate_pb2.StaffRole.STAFF_ROLE_MANAGER


def uid() -> str:
    return uuid.uuid4().hex[:10]


def md(principal) -> tuple:
    return metadata_for(principal)


def new_store_message(**fields) -> store_pb2.Store:
    fields.setdefault("code", f"T-{uid()}")
    fields.setdefault("display_name", "Boutique Faubourg")
    fields.setdefault("time_zone", "Europe/Paris")
    fields.setdefault("region", "EMEA")
    store = store_pb2.Store(**fields)
    hours = store.weekly_hours.add(day=dayofweek_pb2.MONDAY)
    hours.open_time.hours, hours.close_time.hours = 10, 19
    return store


async def make_store(stub, **fields) -> store_pb2.Store:
    return await stub.CreateStore(
        api.CreateStoreRequest(store=new_store_message(**fields), store_id=f"s-{uid()}"),
        metadata=md(hq()), timeout=TIMEOUT,
    )


async def make_associate(stub, store: str, *, capacity: int = 100, role=ASSOCIATE, associate_id: str = "",
                         principal=None, **fields) -> associate_pb2.Associate:
    fields.setdefault("display_name", "Camille Martin")
    return await stub.CreateAssociate(
        api.CreateAssociateRequest(
            associate=associate_pb2.Associate(store=store, role=role, capacity=capacity, **fields),
            associate_id=associate_id or f"a-{uid()}",
        ),
        metadata=md(principal or hq()), timeout=TIMEOUT,
    )


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


# -- customer events, as the customer service publishes them ---------------------------


def customer_created(customer_id: str, home_store: str = "", *, referral_code: str = "", actor: str = "staff/hq-1",
                     **fields):
    customer = customer_pb2.Customer(name=f"customers/{customer_id}", home_store=home_store,
                                     referral_code=referral_code, **fields)
    return new_envelope(
        event_type="atelier.customer.created", source="customer", subject=customer.name,
        payload=cev.CustomerCreated(customer=customer, referral_code=referral_code), actor=actor,
    )


def qr_scan(customer_id: str, referral_code: str):
    interaction = interaction_pb2.Interaction(kind=interaction_pb2.INTERACTION_KIND_QR_SCAN, referral_code=referral_code)
    interaction.occur_time.GetCurrentTime()
    return new_envelope(
        event_type="atelier.customer.interaction_recorded", source="customer", subject=f"customers/{customer_id}",
        payload=cev.InteractionRecorded(customer=f"customers/{customer_id}", interaction=interaction), actor="services/x",
    )


async def publish(service, *envelopes) -> None:
    """Put events on the stream exactly as a relay does (event id as Nats-Msg-Id)."""
    runtime = service.runtime
    for envelope in envelopes:
        await runtime.js.publish(
            runtime.bus.subject(envelope.type), envelope.SerializeToString(),
            headers={"Nats-Msg-Id": envelope.id},
        )


async def eventually(probe, *, attempts: int = 300, delay: float = 0.05):
    """Poll `probe()` until it returns something truthy; fails after a bounded wait."""
    for _ in range(attempts):
        value = await probe()
        if value:
            return value
        await asyncio.sleep(delay)
    raise AssertionError("the expected effect never appeared")


async def primary_of(adb, customer_id: str):
    row = await (await adb.execute(
        "SELECT associate_id, reason FROM assignments WHERE customer_id = %s AND role = 1", (customer_id,)
    )).fetchone()
    return row
