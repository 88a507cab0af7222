"""A NUL character in any string of any request is INVALID_ARGUMENT naming the field,
for every RPC, before the servicer runs (audit item 12: it used to reach PostgreSQL and
come back as INTERNAL)."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import message_factory, struct_pb2

from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from servicekit.request_checks import NUL_DESCRIPTION, may_hold_nul, nul_violations
from servicekit.server import ServiceRuntime
from tests.conftest import hq, metadata_for
from tests.servicekit.support import (
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
