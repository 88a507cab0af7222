"""Fixtures of the customer service's tests; helpers are in support.py. The service
itself (`customer_service`, `customer_stub`) is the session's, from tests/conftest.py."""

from __future__ import annotations

import psycopg
import pytest

from atelier.customer.v1 import purchase_service_pb2_grpc, timeline_service_pb2_grpc


@pytest.fixture
async def db(customer_service):
    """A direct connection to the customer service's database, to check what was stored."""
    conn = await psycopg.AsyncConnection.connect(customer_service.runtime.config.database_url, autocommit=True)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def purchase_stub(customer_service):
    channel = customer_service.channel()
    yield purchase_service_pb2_grpc.PurchaseServiceStub(channel)
    await channel.close()


@pytest.fixture(scope="session")
async def timeline_stub(customer_service):
    channel = customer_service.channel()
    yield timeline_service_pb2_grpc.TimelineServiceStub(channel)
    await channel.close()
