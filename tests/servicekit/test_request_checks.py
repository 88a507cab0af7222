"""A NUL character in any string of any request is INVALID_ARGUMENT naming the field,
for every RPC, before the servicer runs (audit item 12: it used to reach PostgreSQL and
come back as INTERNAL); so are an out-of-range Timestamp (INTERNAL with a traceback), an
undefined enum number (stored) and a string that is not UTF-8 (UNKNOWN) (the re-audit)."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import descriptor, message_factory, struct_pb2, timestamp_pb2
from google.protobuf.message import DecodeError

from atelier.associate.v1 import task_pb2
from atelier.associate.v1 import task_service_pb2 as task_api
from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from servicekit.request_checks import (
    MAX_SECONDS,
    NANOS_DESCRIPTION,
    NUL_DESCRIPTION,
    TIMESTAMP_DESCRIPTION,
    UTF8_DESCRIPTION,
    may_hold_nul,
    nul_violations,
    request_violations,
    undecodable_violations,
)
from servicekit.server import ServiceRuntime
from tests.conftest import hq, metadata_for
from tests.servicekit.support import (
    _RECURSIVE,
    MIGRATIONS,
    EchoEveryRpc,
    bad_fields,
    kit_config,
    migrated_database,
    poisoned,
    service_descriptors,
)

EMAIL, PHONE = customer_pb2.CONTACT_KIND_EMAIL, customer_pb2.CONTACT_KIND_PHONE


def every_method():
    return [(service, method) for service in service_descriptors() for method in service.methods]


# -- the walk, without a server


def test_nested_repeated_and_map_fields_are_named_by_their_path():
    request = api.CreateCustomerRequest(
        customer=customer_pb2.Customer(
            given_name="Ann\x00",
            contact_points=[
                customer_pb2.ContactPoint(kind=EMAIL, value="ann@example.com"),
                customer_pb2.ContactPoint(kind=PHONE, value="+33\x00612"),
            ],
            tags=["vip", "\x00"],
        )
    )
    assert nul_violations(request) == [
        ("customer.given_name", NUL_DESCRIPTION),
        ("customer.contact_points[1].value", NUL_DESCRIPTION),
        ("customer.tags[1]", NUL_DESCRIPTION),
    ]
    fields = struct_pb2.Struct()
    fields.update({"k\x00": "v", "nested": {"x": "y\x00"}})
    assert sorted(path for path, _ in nul_violations(fields)) == [
        'fields["k\\u0000"]',
        'fields["nested"].struct_value.fields["x"].string_value',
    ]


def test_requests_without_a_zero_byte_are_not_walked_and_zero_bytes_alone_are_fine():
    clean = api.CreateCustomerRequest(customer=customer_pb2.Customer(given_name="Ann"))
    assert not may_hold_nul(clean.SerializeToString())
    # An empty sub-message is a zero length byte on the wire: walked, nothing found.
    empty_nested = api.StreamCustomersRequest(segment={})
    assert may_hold_nul(empty_nested.SerializeToString())
    assert nul_violations(empty_nested) == []


@pytest.mark.parametrize("method", [m for _, m in every_method()], ids=lambda m: m.full_name)
def test_every_request_type_is_walked_to_each_of_its_strings(method):
    request, expected = poisoned(message_factory.GetMessageClass(method.input_type))
    assert expected, f"{method.input_type.full_name} has no string field reachable"
    assert may_hold_nul(request.SerializeToString())
    assert sorted(path for path, _ in nul_violations(request)) == sorted(expected)


# -- through the real runtime


async def test_the_test_service_refuses_nul_in_any_field_before_the_servicer_runs(kit, kit_stub):
    md = metadata_for(hq())
    request = api.CreateCustomerRequest(
        customer=customer_pb2.Customer(
            given_name="Ann\x00",
            contact_points=[
                customer_pb2.ContactPoint(kind=EMAIL, value="ann@example.com"),
                customer_pb2.ContactPoint(kind=PHONE, value="+33\x00612"),
            ],
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await kit_stub.CreateCustomer(request, metadata=md, timeout=10)
    assert bad_fields(caught.value) == ["customer.given_name", "customer.contact_points[1].value"]
    assert kit.servicer.reached == []

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await kit_stub.GetCustomer(api.GetCustomerRequest(name="customers/abc\x00"), metadata=md, timeout=10)
    assert bad_fields(caught.value) == ["name"]

    async def batches():
        yield api.ImportCustomersRequest(import_id="i-1", batch_id="b-1")
        yield api.ImportCustomersRequest(import_id="i-1", batch_id="b-\x002")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await kit_stub.ImportCustomers(batches(), metadata=md, timeout=10)
    assert bad_fields(caught.value) == ["batch_id"]

    stream = kit_stub.StreamCustomers(
        api.StreamCustomersRequest(segment={"home_stores": ["stores/\x00"]}), metadata=md, timeout=10
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in stream:
            pass
    assert bad_fields(caught.value) == ["segment.home_stores[0]"]
    assert not any(isinstance(r, api.StreamCustomersRequest) for r in kit.servicer.reached)


async def test_clean_requests_reach_the_servicer_even_with_zero_bytes_on_the_wire(kit, kit_stub):
    md = metadata_for(hq())
    created = await kit_stub.CreateCustomer(
        api.CreateCustomerRequest(
            customer=customer_pb2.Customer(
                given_name="Ann",
                contact_points=[customer_pb2.ContactPoint(kind=EMAIL, value="ann@example.com", primary=False)],
            )
        ),
        metadata=md,
        timeout=10,
    )
    assert created.given_name == "Ann"
    replies = [r async for r in kit_stub.StreamCustomers(api.StreamCustomersRequest(segment={}), metadata=md)]
    assert len(replies) == 2
    imported = await kit_stub.ImportCustomers(
        iter([api.ImportCustomersRequest(import_id="i-1", batch_id="b-1", rows=[{}])]), metadata=md, timeout=10
    )
    assert imported.accepted == 1


async def test_every_rpc_of_every_service_refuses_nul_naming_each_field(infra):
    echo = EchoEveryRpc()
    config = kit_config(infra, await migrated_database(infra, "everyrpc"))
    runtime = ServiceRuntime(config, grpc_services=[], migrations_dir=MIGRATIONS)
    port = await runtime.start(lambda server: server.add_generic_rpc_handlers((echo,)))
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        for service, method in every_method():
            request_cls = message_factory.GetMessageClass(method.input_type)
            reply_cls = message_factory.GetMessageClass(method.output_type)
            request, expected = poisoned(request_cls)
            path = f"/{service.full_name}/{method.name}"
            kind = {
                (False, False): channel.unary_unary,
                (True, False): channel.stream_unary,
                (False, True): channel.unary_stream,
                (True, True): channel.stream_stream,
            }[(method.client_streaming, method.server_streaming)]
            call = kind(
                path, request_serializer=request_cls.SerializeToString, response_deserializer=reply_cls.FromString
            )
            argument = iter([request]) if method.client_streaming else request
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                if method.server_streaming:
                    async for _ in call(argument, timeout=10):
                        pass
                else:
                    await call(argument, timeout=10)
            assert sorted(bad_fields(caught.value)) == sorted(expected), method.full_name
            assert echo.reached == [], f"{method.full_name} reached its handler"
            # The same RPC with its strings clean is answered.
            clean = request_cls()
            if method.server_streaming:
                assert [r async for r in call(iter([clean]) if method.client_streaming else clean, timeout=10)]
            else:
                await call(iter([clean]) if method.client_streaming else clean, timeout=10)
            echo.reached.clear()
    finally:
        await channel.close()
        await runtime.stop()


# -- out-of-range Timestamps, undefined enum numbers, strings that are not UTF-8

FD = descriptor.FieldDescriptor
TIMESTAMP = timestamp_pb2.Timestamp.DESCRIPTOR.full_name


def spoiled(message_cls, kind: str, depth: int = 4):
    """A request with every Timestamp (kind "seconds" or "nanos") or every enum (kind
    "enum") it can reach out of range, and the field paths the server must name."""
    message = message_cls()
    paths: list[str] = []
    _spoil(message, "", kind, depth, paths)
    return message, paths


def _spoil_value(message, field, kind, path, paths) -> bool:
    if field.type == FD.TYPE_ENUM and kind == "enum":
        if field.is_repeated:
            getattr(message, field.name).extend([0, 4096])
            paths.append(f"{path}[1]")
        else:
            setattr(message, field.name, 4096)
            paths.append(path)
        return True
    return False


def _spoil_stamp(stamp, kind, path, paths) -> None:
    stamp.seconds, stamp.nanos = (2**62, 0) if kind == "seconds" else (10, -5)
    paths.append(path)


def _spoil(message, prefix, kind, depth, paths) -> None:
    used_oneofs: set[str] = set()
    for field in message.DESCRIPTOR.fields:
        oneof = field.containing_oneof
        if oneof is not None and oneof.name in used_oneofs:
            continue
        path = prefix + field.name
        before = len(paths)
        if field.type == FD.TYPE_ENUM:
            _spoil_value(message, field, kind, path, paths)
        elif field.type == FD.TYPE_MESSAGE and depth > 0 and field.message_type.full_name not in _RECURSIVE:
            entry = field.message_type
            if entry.GetOptions().map_entry:
                key, value = entry.fields_by_name["key"], entry.fields_by_name["value"]
                if key.type == FD.TYPE_STRING and value.type == FD.TYPE_ENUM and kind == "enum":
                    getattr(message, field.name)["k"] = 4096
                    paths.append(f'{path}["k"]')
                elif key.type == FD.TYPE_STRING and value.type == FD.TYPE_MESSAGE:
                    holder = getattr(message, field.name)
                    if value.message_type.full_name == TIMESTAMP:
                        if kind != "enum":
                            _spoil_stamp(holder["k"], kind, f'{path}["k"]', paths)
                    else:
                        _spoil(holder["k"], f'{path}["k"].', kind, depth - 1, paths)
                        if len(paths) == before:
                            del holder["k"]
            elif entry.full_name == TIMESTAMP:
                if kind != "enum":
                    target = getattr(message, field.name)
                    if field.is_repeated:
                        target.add()
                        _spoil_stamp(target.add(), kind, f"{path}[1]", paths)
                    else:
                        _spoil_stamp(target, kind, path, paths)
            elif field.is_repeated:
                probe = message_factory.GetMessageClass(entry)()
                _spoil(probe, f"{path}[1].", kind, depth - 1, paths)
                if len(paths) > before:
                    container = getattr(message, field.name)
                    container.add()
                    container.add().CopyFrom(probe)
            else:
                probe = message_factory.GetMessageClass(entry)()
                _spoil(probe, path + ".", kind, depth - 1, paths)
                if len(paths) > before:
                    getattr(message, field.name).CopyFrom(probe)
        if oneof is not None and len(paths) > before:
            used_oneofs.add(oneof.name)


def bad_utf8_wire(message_cls) -> tuple[bytes, list[str]]:
    """The wire form of a request whose every reachable string ends in a byte that is not UTF-8."""
    request, expected = poisoned(message_cls)
    wire = request.SerializeToString()
    assert wire.count(b"x\x00y") == len(expected)
    return wire.replace(b"x\x00y", b"x\xffy"), expected


def test_out_of_range_timestamps_and_undefined_enum_numbers_are_named_by_their_path():
    request = task_api.CreateTaskRequest(task=task_pb2.Task(customer="customers/c", suggested_channel=4096))
    stamp = request.task
    stamp.due_time.seconds = 2**62
    assert request_violations(request, strings=False) == [
        ("task.due_time", TIMESTAMP_DESCRIPTION),
        ("task.suggested_channel", "4096 is not a value of atelier.common.v1.Channel"),
    ]
    stamp.due_time.seconds, stamp.due_time.nanos = 10, -5
    stamp.suggested_channel = 0
    assert request_violations(request, strings=False) == [("task.due_time", NANOS_DESCRIPTION)]
    stamp.due_time.seconds, stamp.due_time.nanos = MAX_SECONDS, 999_999_999
    assert request_violations(request, strings=False) == []


def test_a_string_that_is_not_utf8_is_named_by_its_path():
    raw = api.GetCustomerRequest(name="customers/ab").SerializeToString()
    parse = api.GetCustomerRequest.FromString
    assert undecodable_violations(parse, raw[:-1] + b"\xff") == [("name", UTF8_DESCRIPTION)]
    assert undecodable_violations(parse, raw[:-2]) == [("", "the request is not a valid protobuf message of its type")]


@pytest.mark.parametrize("kind", ["seconds", "nanos", "enum"])
def test_every_timestamp_and_enum_of_every_request_type_is_checked(kind):
    reached = 0
    for _, method in every_method():
        request, expected = spoiled(message_factory.GetMessageClass(method.input_type), kind)
        reached += bool(expected)
        assert sorted(path for path, _ in request_violations(request, strings=False)) == sorted(expected), (
            method.full_name
        )
    assert reached


def test_request_types_without_timestamps_or_enums_are_not_walked_without_zero_bytes():
    request = api.GetCustomerRequest(name="customers/ab")
    assert request_violations(request, strings=may_hold_nul(request.SerializeToString())) == []


@pytest.mark.parametrize("method", [m for _, m in every_method()], ids=lambda m: m.full_name)
def test_every_request_type_names_each_string_that_is_not_utf8(method):
    request_cls = message_factory.GetMessageClass(method.input_type)
    wire, expected = bad_utf8_wire(request_cls)
    with pytest.raises(DecodeError):
        request_cls.FromString(wire)
    assert sorted(path for path, _ in undecodable_violations(request_cls.FromString, wire)) == sorted(expected)


async def test_every_rpc_of_every_service_refuses_bad_timestamps_enums_and_utf8_naming_each_field(infra):
    echo = EchoEveryRpc()
    config = kit_config(infra, await migrated_database(infra, "everyrpc"))
    runtime = ServiceRuntime(config, grpc_services=[], migrations_dir=MIGRATIONS)
    port = await runtime.start(lambda server: server.add_generic_rpc_handlers((echo,)))
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        for service, method in every_method():
            request_cls = message_factory.GetMessageClass(method.input_type)
            cases = [bad_utf8_wire(request_cls)]
            for kind in ("seconds", "nanos", "enum"):
                request, expected = spoiled(request_cls, kind)
                if expected:
                    cases.append((request.SerializeToString(), expected))
            kind_of_call = {
                (False, False): channel.unary_unary,
                (True, False): channel.stream_unary,
                (False, True): channel.unary_stream,
                (True, True): channel.stream_stream,
            }[(method.client_streaming, method.server_streaming)]
            call = kind_of_call(
                f"/{service.full_name}/{method.name}", request_serializer=bytes, response_deserializer=bytes
            )
            for wire, expected in cases:
                argument = iter([wire]) if method.client_streaming else wire
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    if method.server_streaming:
                        async for _ in call(argument, timeout=10):
                            pass
                    else:
                        await call(argument, timeout=10)
                assert sorted(bad_fields(caught.value)) == sorted(expected), method.full_name
                assert echo.reached == [], f"{method.full_name} reached its handler"
    finally:
        await channel.close()
        await runtime.stop()
