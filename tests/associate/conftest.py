"""Fixtures of the associate service's tests.

Two services on the shared infra: `associate_service` on a private event bus (its tests
feed the customer events themselves, and no other associate service in the session
assigns their customers) and `tasks_service` on the session's bus (its purchase flow
reads the events of the session's customer service). A stub per API, and a direct
database connection to each, to seed rows and to check what was stored."""

from __future__ import annotations

import psycopg
import pytest

from atelier.associate.v1 import associate_service_pb2_grpc, performance_service_pb2_grpc, task_service_pb2_grpc
from tests.conftest import RunningService, running_gateway, start_service


@pytest.fixture(scope="session")
async def associate_service(infra):
    from services.associate.app import build

    running = await start_service(build, infra.service_config("associate", **infra.private_bus("assoc")))
    yield running
    await running.runtime.stop()


@pytest.fixture(scope="session")
async def associate_stub(associate_service):
    channel = associate_service.channel()
    yield associate_service_pb2_grpc.AssociateServiceStub(channel)
    await channel.close()


async def _connect(service: RunningService):
    return await psycopg.AsyncConnection.connect(service.runtime.config.database_url, autocommit=True)


@pytest.fixture
async def adb(associate_service):
    conn = await _connect(associate_service)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def tasks_service(infra):
    from services.associate.app import build

    running = await start_service(build, infra.service_config("associate_tasks"))
    yield running
    await running.runtime.stop()


@pytest.fixture(scope="session")
async def task_stub(tasks_service):
    channel = tasks_service.channel()
    yield task_service_pb2_grpc.TaskServiceStub(channel)
    await channel.close()


@pytest.fixture(scope="session")
async def tasks_directory_stub(tasks_service):
    """The AssociateService of the service on the session's bus: stores and staff made
    through it reach the session's customer service as events."""
    channel = tasks_service.channel()
    yield associate_service_pb2_grpc.AssociateServiceStub(channel)
    await channel.close()


@pytest.fixture(scope="session")
async def performance_stub(tasks_service):
    channel = tasks_service.channel()
    yield performance_service_pb2_grpc.PerformanceServiceStub(channel)
    await channel.close()


@pytest.fixture
async def db(tasks_service):
    conn = await _connect(tasks_service)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def tasks_http(tasks_service):
    """A real uvicorn gateway in front of the tasks service."""
    async with running_gateway({"associate": tasks_service.address}) as client:
        yield client
