"""A tiny service on the real runtime, for testing servicekit without the real services.

`PeopleServicer` implements four CustomerService RPCs over a `people` table (its own
migrations in tests/servicekit/migrations): a unary write through the unit of work, a
unary read, a client-streaming and a server-streaming RPC. `EchoEveryRpc` answers every
RPC of every Atelier proto service with an empty reply, recording what reached it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import sqlalchemy as sa
from google.protobuf import descriptor, message_factory
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from atelier.customer.v1 import customer_pb2, customer_service_pb2_grpc
from atelier.customer.v1 import customer_service_pb2 as api
from atelier.events.v1 import customer_events_pb2
from atelierctl.embedded import EmbeddedNats, free_port
from servicekit import context, event_types, events, migrations
from servicekit.config import ServiceConfig
from servicekit.server import ServiceRuntime
from servicekit.uow import Transactions, UnitOfWork

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
GRPC_SERVICES = ["atelier.customer.v1.CustomerService"]


async def migrated_database(infra: Any, label: str) -> str:
    """A private database with servicekit's tables and `people`; its URL."""
    url = infra.database_url(f"{label}_{secrets.token_hex(3)}")
    await asyncio.to_thread(migrations.upgrade, url, MIGRATIONS)
    return url


class PeopleServicer(customer_service_pb2_grpc.CustomerServiceServicer):
    def __init__(self, tx: Transactions):
        self.tx = tx
        self.reached: list[Message] = []

    async def CreateCustomer(self, request: api.CreateCustomerRequest, ctx: object) -> customer_pb2.Customer:
        self.reached.append(request)
        caller = context.principal()
        person = request.customer
        email = next((c.value for c in person.contact_points if c.kind == customer_pb2.CONTACT_KIND_EMAIL), "")
        phone = next((c.value for c in person.contact_points if c.kind == customer_pb2.CONTACT_KIND_PHONE), "")
        birthday = person.important_dates[0].label if person.important_dates else None
        person_id = request.customer_id or secrets.token_hex(6)

        async def work(uow: UnitOfWork) -> customer_pb2.Customer:
            await uow.conn.execute(
                sa.text(
                    "INSERT INTO people (id, given_name, email, phone, birthday) "
                    "VALUES (:id, :given_name, :email, :phone, CAST(:birthday AS date))"
                ),
                {
                    "id": person_id,
                    "given_name": person.given_name,
                    "email": email,
                    "phone": phone,
                    "birthday": birthday,
                },
            )
            reply = customer_pb2.Customer(name=f"customers/{person_id}", given_name=person.given_name)
            uow.emit(
                events.new_envelope(
                    event_type=event_types.CUSTOMER_DELETED,
                    source="kit",
                    subject=reply.name,
                    payload=customer_events_pb2.CustomerDeleted(customer=reply.name),
                    actor=caller.subject,
                )
            )
            return reply

        return await self.tx.run(caller, work)

    async def GetCustomer(self, request: api.GetCustomerRequest, ctx: object) -> customer_pb2.Customer:
        self.reached.append(request)
        async with self.tx.read() as conn:
            row = (
                await conn.execute(sa.text("SELECT id, given_name FROM people WHERE id = :id"), {"id": request.name})
            ).first()
        return customer_pb2.Customer(name=request.name, given_name=row.given_name if row else "")

    async def ImportCustomers(
        self, requests: AsyncIterator[api.ImportCustomersRequest], ctx: object
    ) -> api.ImportCustomersResponse:
        accepted = 0
        async for request in requests:
            self.reached.append(request)
            accepted += len(request.rows)
        return api.ImportCustomersResponse(accepted=accepted)

    async def StreamCustomers(
        self, request: api.StreamCustomersRequest, ctx: object
    ) -> AsyncIterator[api.StreamCustomersResponse]:
        self.reached.append(request)
        for i in range(2):
            yield api.StreamCustomersResponse(customers=[customer_pb2.Customer(name=f"customers/c-{i}")])


def build(
    config: ServiceConfig, *, health_interval: float = 0.2, events_wait: float = 5.0
) -> tuple[ServiceRuntime, PeopleServicer, Any]:
    """The runtime, its servicer and the register callback for `runtime.start`."""
    runtime = ServiceRuntime(
        config,
        grpc_services=GRPC_SERVICES,
        migrations_dir=MIGRATIONS,
        health_interval=health_interval,
        events_wait=events_wait,
    )
    servicer = PeopleServicer(Transactions(runtime.engine))

    def register(server: grpc.aio.Server) -> None:
        customer_service_pb2_grpc.add_CustomerServiceServicer_to_server(servicer, server)

    return runtime, servicer, register


def kit_config(infra: Any, database_url: str, **overrides: Any) -> ServiceConfig:
    tag = secrets.token_hex(3)
    values: dict[str, Any] = {
        "name": f"kit{tag}",
        "database_url": database_url,
        "nats_url": infra.nats_url,
        "grpc_address": "127.0.0.1:0",
        "internal_secret": infra_secret(),
        "log_level": "WARNING",
        "events_prefix": f"k{tag}",
        "events_stream": f"K{tag.upper()}",
    }
    values.update(overrides)
    infra.streams.append(values["events_stream"])
    return ServiceConfig(**values)


def infra_secret() -> str:
    from tests.conftest import INTERNAL_SECRET

    return INTERNAL_SECRET


async def health_status(address: str, service: str = "", within: float = 2.0) -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=within
        )
        return int(reply.status)


async def eventually(check: Callable[[], Any], *, within: float = 10.0, interval: float = 0.05) -> Any:
    """Poll `check` (sync or async) until it returns a truthy value; that value."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(interval)


def rich_status(exc: grpc.aio.AioRpcError) -> status_pb2.Status:
    status = rpc_status.from_call(exc)
    assert status is not None, f"no rich status on {exc.code()}: {exc.details()}"
    return status


def bad_fields(exc: grpc.aio.AioRpcError) -> list[str]:
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, f"{exc.code()}: {exc.details()}"
    fields: list[str] = []
    for detail in rich_status(exc).details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            found = error_details_pb2.BadRequest()
            detail.Unpack(found)
            fields += [v.field for v in found.field_violations]
    return fields


def error_reason(exc: grpc.aio.AioRpcError) -> str:
    for detail in rich_status(exc).details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    return ""


@contextlib.contextmanager
def private_nats(port: int | None = None) -> Iterator[EmbeddedNats]:
    """A nats-server of the test's own (to stop and restart), on a fixed port."""
    with tempfile.TemporaryDirectory(prefix="atelier-kit-nats-") as tmp:
        server = EmbeddedNats(Path(tmp) / "nats", port=port or free_port())
        try:
            yield server
        finally:
            server.stop()


# ------------------------------------------------------------ every RPC


def service_descriptors() -> list[descriptor.ServiceDescriptor]:
    found = []
    for path in sorted((ROOT / "protos").rglob("*_service.proto")):
        module = ".".join(path.relative_to(ROOT / "protos").with_suffix("").parts) + "_pb2"
        found += importlib.import_module(module).DESCRIPTOR.services_by_name.values()
    assert found
    return found


class EchoEveryRpc(grpc.GenericRpcHandler):
    """Every RPC of every service, answering an empty reply; `reached` holds the
    requests (each message of a client stream) that got to it."""

    def __init__(self) -> None:
        self.reached: list[Message] = []
        self._handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
        for service in service_descriptors():
            for method in service.methods:
                self._handlers[f"/{service.full_name}/{method.name}"] = self._handler(method)

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        return self._handlers.get(handler_call_details.method)

    def _handler(self, method: descriptor.MethodDescriptor) -> grpc.RpcMethodHandler[Any, Any]:
        request_cls = message_factory.GetMessageClass(method.input_type)
        reply_cls = message_factory.GetMessageClass(method.output_type)
        reached = self.reached

        async def take(requests: Any) -> None:
            if method.client_streaming:
                async for request in requests:
                    reached.append(request)
            else:
                reached.append(requests)

        async def unary(requests: Any, ctx: Any) -> Message:
            await take(requests)
            return reply_cls()

        async def streaming(requests: Any, ctx: Any) -> AsyncIterator[Message]:
            await take(requests)
            yield reply_cls()

        factory: Any = {
            (False, False): grpc.unary_unary_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }[(method.client_streaming, method.server_streaming)]
        behaviour = streaming if method.server_streaming else unary
        return factory(behaviour, request_cls.FromString, reply_cls.SerializeToString)


_RECURSIVE = {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}


def poisoned(message_cls: type[Message], depth: int = 4) -> tuple[Message, list[str]]:
    """A request with a NUL in every string field it can reach (one field per oneof,
    the second element of each repeated field, one entry of each map), and the field
    paths the server must name."""
    message = message_cls()
    paths: list[str] = []
    _poison(message, "", depth, paths)
    return message, paths


def _poison(message: Message, prefix: str, depth: int, paths: list[str]) -> None:
    bad = "x\x00y"
    used_oneofs: set[str] = set()
    for field in message.DESCRIPTOR.fields:
        oneof = field.containing_oneof
        if oneof is not None and oneof.name in used_oneofs:
            continue
        path = prefix + field.name
        if field.type == descriptor.FieldDescriptor.TYPE_STRING:
            if field.is_repeated:
                getattr(message, field.name).extend(["fine", bad])
                paths.append(f"{path}[1]")
            else:
                setattr(message, field.name, bad)
                paths.append(path)
        elif field.type == descriptor.FieldDescriptor.TYPE_MESSAGE:
            entry = field.message_type
            if depth == 0 or entry.full_name in _RECURSIVE:
                continue
            if entry.GetOptions().map_entry:
                key, value = entry.fields_by_name["key"], entry.fields_by_name["value"]
                container = getattr(message, field.name)
                if key.type != descriptor.FieldDescriptor.TYPE_STRING:
                    continue
                if value.type == descriptor.FieldDescriptor.TYPE_STRING:
                    container["k"] = bad
                    paths.append(f'{path}["k"]')
                elif value.type == descriptor.FieldDescriptor.TYPE_MESSAGE:
                    _poison(container["k"], f'{path}["k"].', depth - 1, paths)
                else:
                    continue
            elif field.is_repeated:
                container = getattr(message, field.name)
                container.add()
                _poison(container.add(), f"{path}[1].", depth - 1, paths)
            else:
                before = len(paths)
                _poison(getattr(message, field.name), path + ".", depth - 1, paths)
                if len(paths) == before:
                    continue
        else:
            continue
        if oneof is not None:
            used_oneofs.add(oneof.name)
