"""Fixtures of the task / attribution / performance tests: the associate service on the real
stack, a stub per API, a direct database connection to seed stores and assignments and to
check what was stored."""

from __future__ import annotations

import psycopg
import pytest

from atelier.associate.v1 import performance_service_pb2_grpc, task_service_pb2_grpc
from tests.conftest import start_service


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
async def performance_stub(tasks_service):
    channel = tasks_service.channel()
    yield performance_service_pb2_grpc.PerformanceServiceStub(channel)
    await channel.close()


@pytest.fixture
async def db(tasks_service):
    conn = await psycopg.AsyncConnection.connect(tasks_service.runtime.config.database_url, autocommit=True)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def tasks_http(tasks_service):
    """A real uvicorn gateway in front of this session's associate service."""
    from tests.conftest import running_gateway

    async with running_gateway({"associate": tasks_service.address}) as client:
        yield client
