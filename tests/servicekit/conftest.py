"""Fixtures of the servicekit tests: a private database with servicekit's tables, a
private event stream, and the tiny test service (support.PeopleServicer) on the real
runtime."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import grpc
import nats
import pytest

from servicekit import db, events
from servicekit.server import ServiceRuntime
from tests.servicekit.support import PeopleServicer, build, kit_config, migrated_database


@pytest.fixture
async def bus_env(infra):
    """A private database with the outbox tables, a private stream and a NATS connection."""
    tag = secrets.token_hex(3)
    url = await migrated_database(infra, "events")
    engine = db.create_engine(url)
    nc = await nats.connect(infra.nats_url)
    js = nc.jetstream()
    bus = events.EventBus(prefix=f"e{tag}", stream=f"E{tag.upper()}")
    await events.ensure_stream(js, bus)
    yield engine, js, bus, url
    await js.delete_stream(bus.stream)
    await nc.drain()
    await engine.dispose()


@dataclass
class Kit:
    runtime: ServiceRuntime
    servicer: PeopleServicer
    address: str
    channel: grpc.aio.Channel
    database_url: str


@pytest.fixture
async def kit(infra):
    """The test service running on the real runtime (database, NATS, gRPC on port 0)."""
    url = await migrated_database(infra, "kit")
    runtime, servicer, register = build(kit_config(infra, url))
    port = await runtime.start(register)
    address = f"127.0.0.1:{port}"
    channel = grpc.aio.insecure_channel(address)
    yield Kit(runtime=runtime, servicer=servicer, address=address, channel=channel, database_url=url)
    await channel.close()
    await runtime.stop()


@pytest.fixture
def kit_stub(kit: Kit) -> Any:
    from atelier.customer.v1 import customer_service_pb2_grpc

    return customer_service_pb2_grpc.CustomerServiceStub(kit.channel)
