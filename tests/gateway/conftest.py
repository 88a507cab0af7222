"""Gateway fixtures: a real grpc.aio server on port 0 with an in-memory stand-in for the
customer service (the real one is tested on its own), the real gRPC health servicer, and
the gateway app, driven with httpx in-process (`client`) or over real HTTP through uvicorn
on port 0 (`live`).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import httpx
import pytest
import uvicorn
from google.protobuf import empty_pb2, field_mask_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from starlette.applications import Starlette

from atelier.customer.v1 import customer_pb2, customer_service_pb2_grpc
from atelier.customer.v1 import customer_service_pb2 as api
from gateway import Settings, create_app
from servicekit.auth import PRINCIPAL_METADATA_KEY, UserTokenVerifier, mint_user_token, verify_internal_token
from servicekit.errors import AlreadyExists, AtelierError, InvalidArgument, NotFound, PermissionDenied, Unavailable
from servicekit.status import to_grpc_status

GATEWAY_INTERNAL_SECRET = "gateway-test-internal-" + secrets.token_hex(8)
JWT_SECRET = "gateway-test-jwt-secret-" + secrets.token_hex(32)
ISSUER = "atelier-dev"
AUDIENCE = "atelier"


def user_token(**overrides) -> str:
    claims = dict(
        secret=JWT_SECRET,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="associates/a-1",
        role="associate",
        associate_id="a-1",
        store="stores/paris",
    )
    claims.update(overrides)
    return mint_user_token(**claims)


def auth(**overrides) -> dict[str, str]:
    return {"Authorization": f"Bearer {user_token(**overrides)}"}


@dataclass
class Call:
    method: str
    request: object
    metadata: dict[str, str]


@dataclass
class FakeCustomerService(customer_service_pb2_grpc.CustomerServiceServicer):
    """Just enough behaviour to exercise every route shape and error path."""

    customers: dict[str, customer_pb2.Customer] = field(default_factory=dict)
    notes: dict[str, list[customer_pb2.Note]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def reset(self) -> None:
        self.customers.clear()
        self.notes.clear()
        self.calls.clear()
        self.customers["customers/c1"] = customer_pb2.Customer(
            name="customers/c1",
            given_name="Hélène",
            family_name="Laurent",
            tier=customer_pb2.TIER_VIP,
            home_store="stores/paris",
            tags=["press"],
        )

    def last(self, method: str) -> Call:
        found = [c for c in self.calls if c.method == method]
        assert found, f"{method} was never called"
        return found[-1]

    async def _enter(self, method: str, request, context) -> None:
        metadata = dict(context.invocation_metadata())
        self.calls.append(Call(method, request, metadata))
        token = metadata.get(PRINCIPAL_METADATA_KEY)
        if token is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "no principal")
        # What a real service does first: trust the principal only if it verifies.
        verify_internal_token(token, GATEWAY_INTERNAL_SECRET)

    async def _fail(self, context, error: AtelierError):
        status = to_grpc_status(error)
        await context.abort(status.code, status.details, trailing_metadata=status.trailing_metadata)

    async def GetCustomer(self, request, context):
        await self._enter("GetCustomer", request, context)
        if request.name == "customers/slow":
            await asyncio.sleep(2)
        if request.name == "customers/forbidden":
            await self._fail(context, PermissionDenied("not in your book"))
        if request.name == "customers/plain-denied":
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "no rich details here")
        if request.name == "customers/db-down":
            # What a service answers when its database cannot be reached.
            await self._fail(context, Unavailable("the customer database is unavailable; retry"))
        if request.name == "customers/plain-unavailable":
            await context.abort(grpc.StatusCode.UNAVAILABLE, "overloaded")
        if request.name not in self.customers:
            await self._fail(context, NotFound(request.name))
        return self.customers[request.name]

    async def ListCustomers(self, request, context):
        await self._enter("ListCustomers", request, context)
        found = sorted(self.customers.values(), key=lambda c: c.name)
        size = request.page_size or 50
        return api.ListCustomersResponse(customers=found[:size], next_page_token="next" if len(found) > size else "")

    async def CreateCustomer(self, request, context):
        await self._enter("CreateCustomer", request, context)
        bad = [
            (f"customer.contact_points[{i}].value", "not a valid e-mail address")
            for i, cp in enumerate(request.customer.contact_points)
            if cp.kind == customer_pb2.CONTACT_KIND_EMAIL and "@" not in cp.value
        ]
        if bad:
            await self._fail(context, InvalidArgument(bad))
        name = f"customers/{request.customer_id or 'c' + str(len(self.customers) + 1)}"
        if name in self.customers:
            await self._fail(context, AlreadyExists(f"{name} already exists"))
        customer = customer_pb2.Customer()
        customer.CopyFrom(request.customer)
        customer.name = name
        customer.create_time.GetCurrentTime()
        self.customers[name] = customer
        return customer

    async def UpdateCustomer(self, request, context):
        await self._enter("UpdateCustomer", request, context)
        current = self.customers.get(request.customer.name)
        if current is None:
            await self._fail(context, NotFound(request.customer.name))
        patch = field_mask_pb2.FieldMask(paths=list(request.update_mask.paths))
        patch.MergeMessage(request.customer, current, replace_repeated_field=True)
        return current

    async def DeleteCustomer(self, request, context):
        await self._enter("DeleteCustomer", request, context)
        if self.customers.pop(request.name, None) is None:
            await self._fail(context, NotFound(request.name))
        return empty_pb2.Empty()

    async def SearchCustomers(self, request, context):
        await self._enter("SearchCustomers", request, context)
        results = [
            api.SearchResult(customer=c, score=0.5)
            for c in self.customers.values()
            if request.query.lower() in (c.given_name + " " + c.family_name).lower()
        ]
        return api.SearchCustomersResponse(results=results)

    async def GrantConsent(self, request, context):
        await self._enter("GrantConsent", request, context)
        customer = self.customers.get(request.name)
        if customer is None:
            await self._fail(context, NotFound(request.name))
        customer.consents.add(channel=request.channel, purpose=request.purpose, granted=True, source=request.source)
        return customer

    async def CreateNote(self, request, context):
        await self._enter("CreateNote", request, context)
        notes = self.notes.setdefault(request.parent, [])
        note = customer_pb2.Note(name=f"{request.parent}/notes/n{len(notes) + 1}", text=request.note.text)
        notes.append(note)
        return note

    async def ListNotes(self, request, context):
        await self._enter("ListNotes", request, context)
        return api.ListNotesResponse(notes=self.notes.get(request.parent, []))


@dataclass
class Backend:
    address: str
    servicer: FakeCustomerService
    health: health.aio.HealthServicer
    server: grpc.aio.Server


@pytest.fixture(scope="session")
async def backend():
    server = grpc.aio.server()
    servicer = FakeCustomerService()
    servicer.reset()
    health_servicer = health.aio.HealthServicer()
    customer_service_pb2_grpc.add_CustomerServiceServicer_to_server(servicer, server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    yield Backend(f"127.0.0.1:{port}", servicer, health_servicer, server)
    await server.stop(grace=None)


@pytest.fixture(autouse=True)
def _fresh_backend(request):
    # Only reset when the test uses the backend; unit tests need no server at all.
    if "backend" in request.fixturenames:
        request.getfixturevalue("backend").servicer.reset()


def make_settings(addresses: dict[str, str], **overrides) -> Settings:
    values = dict(
        internal_secret=GATEWAY_INTERNAL_SECRET,
        verifier=UserTokenVerifier(key=JWT_SECRET, algorithms=("HS256",), issuer=ISSUER, audience=AUDIENCE),
        service_addresses=addresses,
        deadline_seconds=5.0,
        health_deadline_seconds=0.5,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
async def app(backend):
    application = create_app(make_settings({"customer": backend.address}))
    yield application
    await application.state.gateway.channels.close()


@pytest.fixture(scope="session")
async def client(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
        yield http


@pytest.fixture
async def make_client(backend):
    """A client for a gateway built with other settings; closed after the test."""
    opened = []

    async def build(addresses: dict[str, str] | None = None, **overrides) -> httpx.AsyncClient:
        application = create_app(make_settings(addresses or {"customer": backend.address}, **overrides))
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://gateway")
        opened.append((application, http))
        return http

    yield build
    for application, http in opened:
        await http.aclose()
        await application.state.gateway.channels.close()


@contextlib.asynccontextmanager
async def serve(application: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """`application` served by uvicorn on 127.0.0.1:0; an httpx client on its URL."""
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=15) as http:
            yield http
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
async def live(backend):
    """The gateway in front of the fake customer service over real HTTP (uvicorn)."""
    async with serve(create_app(make_settings({"customer": backend.address}))) as http:
        yield http


def unused_address() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"
