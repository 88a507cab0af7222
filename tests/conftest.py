"""Shared fixtures: real PostgreSQL and NATS JetStream, real gRPC servers on port 0.

By default the session starts an embedded PostgreSQL and nats-server (from the wheels).
With ATELIER_TEST_DATABASE_URL (an admin URL, e.g. postgresql://postgres@127.0.0.1:5432/postgres)
and ATELIER_TEST_NATS_URL it uses those servers instead, creating its own databases and
stream (unique names per run) and dropping them at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

import grpc
import psycopg
import pytest
from psycopg import sql

from atelierctl.embedded import EmbeddedNats, EmbeddedPostgres, ensure_database
from servicekit import telemetry
from servicekit.auth import PRINCIPAL_METADATA_KEY, Principal, Role, mint_internal_token
from servicekit.config import ServiceConfig

# Spans must be real (not no-op) for trace context to travel through events.
telemetry.configure("atelier-tests", "WARNING")

INTERNAL_SECRET = "test-internal-secret-" + secrets.token_hex(8)


@dataclass
class Infra:
    admin_url: str
    nats_url: str
    run_id: str
    databases: list
    streams: list

    def database_url(self, service: str) -> str:
        name = f"atelier_t{self.run_id}_{service}"
        ensure_database(self.admin_url, name)
        self.databases.append(name)
        base = self.admin_url.rsplit("/", 1)[0]
        return f"{base}/{name}"

    def private_bus(self, tag: str) -> dict[str, str]:
        """Events of their own for a group of services started together, so that other
        services running in the session (e.g. another associate service applying its
        rules to the same customer events) never reach them."""
        stream = f"T{self.run_id.upper()}{tag.upper()}"
        self.streams.append(stream)
        return {"events_prefix": f"t{self.run_id}{tag}", "events_stream": stream}

    def service_config(self, service: str, **overrides) -> ServiceConfig:
        values = dict(
            name=service,
            database_url=self.database_url(service),
            nats_url=self.nats_url,
            grpc_address="127.0.0.1:0",
            internal_secret=INTERNAL_SECRET,
            log_level="WARNING",
            events_prefix=f"t{self.run_id}",
            events_stream=f"T{self.run_id.upper()}",
        )
        values.update(overrides)
        return ServiceConfig(**values)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that reaches real PostgreSQL / NATS (the `infra` fixture, directly or through
    a service fixture) or a subprocess mesh is `integration`; the rest is the fast part
    (`make test-fast`: pure domain rules, parsers, generated-contract checks)."""
    for item in items:
        if "infra" in getattr(item, "fixturenames", ()) or item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def infra():
    run_id = secrets.token_hex(4)
    admin_url = os.environ.get("ATELIER_TEST_DATABASE_URL")
    nats_url = os.environ.get("ATELIER_TEST_NATS_URL")
    started = []
    with tempfile.TemporaryDirectory(prefix="atelier-test-") as tmp:
        if not admin_url:
            pg = EmbeddedPostgres(Path(tmp) / "pg")
            pg.start()
            started.append(pg)
            admin_url = pg.url()
        if not nats_url:
            nats_server = EmbeddedNats(Path(tmp) / "nats")
            nats_server.start()
            started.append(nats_server)
            nats_url = nats_server.url()
        infra = Infra(admin_url=admin_url, nats_url=nats_url, run_id=run_id, databases=[], streams=[])
        try:
            yield infra
        finally:
            _drop_databases(admin_url, infra.databases)
            for stream in [f"T{run_id.upper()}", *infra.streams]:
                _delete_stream(nats_url, stream)
            for server in reversed(started):
                server.stop()


def _drop_databases(admin_url: str, names: list[str]) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in set(names):
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _delete_stream(nats_url: str, stream: str) -> None:
    import nats
    from nats.js.errors import NotFoundError

    async def delete() -> None:
        nc = await nats.connect(nats_url)
        # A stream no test published to was never created.
        with contextlib.suppress(NotFoundError):
            await nc.jetstream().delete_stream(stream)
        await nc.drain()

    asyncio.run(delete())


def metadata_for(principal: Principal) -> tuple:
    return ((PRINCIPAL_METADATA_KEY, mint_internal_token(principal, INTERNAL_SECRET)),)


def hq() -> Principal:
    return Principal(subject="staff/hq-1", role=Role.HQ)


def manager(store: str) -> Principal:
    return Principal(subject=f"staff/mgr-{store.split('/')[-1]}", role=Role.MANAGER, associate_id="m-1", store=store)


def associate(store: str, associate_id: str = "a-1") -> Principal:
    return Principal(subject=f"associates/{associate_id}", role=Role.ASSOCIATE, associate_id=associate_id, store=store)


@dataclass
class RunningService:
    runtime: object
    address: str

    def channel(self) -> grpc.aio.Channel:
        return grpc.aio.insecure_channel(self.address)


async def start_service(build, config: ServiceConfig) -> RunningService:
    runtime, register = build(config)
    port = await runtime.start(register)
    # Ready means SERVING: migrations applied and the database answering (NATS is reported
    # apart, on `atelier.events`; start() itself waits a few seconds for events to flow).
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        for _ in range(200):
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=""))
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError("service never became SERVING")
    return RunningService(runtime=runtime, address=f"127.0.0.1:{port}")


@pytest.fixture(scope="session")
async def customer_service(infra):
    from services.customer.app import build

    running = await start_service(build, infra.service_config("customer"))
    yield running
    await running.runtime.stop()


@pytest.fixture(scope="session")
async def customer_stub(customer_service):
    from atelier.customer.v1 import customer_service_pb2_grpc

    channel = customer_service.channel()
    yield customer_service_pb2_grpc.CustomerServiceStub(channel)
    await channel.close()


# The gateway in front of the session's services, over real HTTP (uvicorn on port 0).
GATEWAY_JWT_SECRET = "test-gateway-jwt-secret-" + secrets.token_hex(16)
GATEWAY_ISSUER, GATEWAY_AUDIENCE = "atelier-test", "atelier"


def bearer(role: str, store: str = "", associate_id: str = "", subject: str = "") -> dict[str, str]:
    """Authorization header with a user token the test gateway accepts."""
    from servicekit.auth import mint_user_token

    token = mint_user_token(
        secret=GATEWAY_JWT_SECRET,
        issuer=GATEWAY_ISSUER,
        audience=GATEWAY_AUDIENCE,
        subject=subject or f"staff/{role}-{(store or 'hq').split('/')[-1]}",
        role=role,
        store=store,
        associate_id=associate_id or ("a-1" if role == "associate" else ""),
    )
    return {"authorization": f"Bearer {token}"}


@contextlib.asynccontextmanager
async def running_gateway(service_addresses: dict[str, str]):
    """A real gateway (uvicorn on port 0) in front of the given services; yields an httpx
    client on its base URL."""
    import httpx
    import uvicorn

    from gateway import Settings, create_app
    from servicekit.auth import UserTokenVerifier

    settings = Settings(
        internal_secret=INTERNAL_SECRET,
        verifier=UserTokenVerifier(
            key=GATEWAY_JWT_SECRET, algorithms=("HS256",), issuer=GATEWAY_ISSUER, audience=GATEWAY_AUDIENCE
        ),
        service_addresses=service_addresses,
        log_level="WARNING",
    )
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=15) as client:
            yield client
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
async def http_base_url(customer_service):
    async with running_gateway({"customer": customer_service.address}) as client:
        yield str(client.base_url).rstrip("/")
