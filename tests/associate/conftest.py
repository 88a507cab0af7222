"""Fixtures of the associate service's tests: the service on the shared infra, a stub,
and a direct database connection to check what was stored."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import start_service


@pytest.fixture(scope="session")
async def associate_service(infra):
    from services.associate.app import build

    # A private event bus: these tests feed the events themselves.
    running = await start_service(build, infra.service_config("associate", **infra.private_bus("assoc")))
    yield running
    await running.runtime.stop()


@pytest.fixture(scope="session")
async def associate_stub(associate_service):
    from atelier.associate.v1 import associate_service_pb2_grpc

    channel = associate_service.channel()
    yield associate_service_pb2_grpc.AssociateServiceStub(channel)
    await channel.close()


@pytest.fixture
async def adb(associate_service):
    conn = await psycopg.AsyncConnection.connect(associate_service.runtime.config.database_url, autocommit=True)
    try:
        yield conn
    finally:
        await conn.close()
