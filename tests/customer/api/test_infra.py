"""Infrastructure endpoints of the customer service: gRPC health and server reflection,
both answering without a principal."""

from __future__ import annotations

from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

SERVICE = "atelier.customer.v1.CustomerService"


async def test_health_is_serving_overall_and_for_the_service(customer_service):
    async with customer_service.channel() as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", SERVICE):
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, service


async def test_health_of_an_unknown_service_is_not_found(customer_service):
    import grpc

    async with customer_service.channel() as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            await stub.Check(health_pb2.HealthCheckRequest(service="atelier.nope.v1.Nope"), timeout=10)
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND
        else:
            raise AssertionError("unknown service reported a status")


async def _reflect(channel, request: reflection_pb2.ServerReflectionRequest) -> reflection_pb2.ServerReflectionResponse:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    call = stub.ServerReflectionInfo(iter([request]), timeout=10)
    responses = [r async for r in call]
    assert len(responses) == 1
    return responses[0]


async def test_reflection_lists_the_service(customer_service):
    async with customer_service.channel() as channel:
        reply = await _reflect(channel, reflection_pb2.ServerReflectionRequest(list_services=""))
    names = {s.name for s in reply.list_services_response.service}
    assert SERVICE in names
    assert "grpc.health.v1.Health" in names


async def test_reflection_describes_the_service(customer_service):
    async with customer_service.channel() as channel:
        reply = await _reflect(channel, reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE))
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in reply.file_descriptor_response.file_descriptor_proto
    ]
    service_file = next(f for f in files if f.name == "atelier/customer/v1/customer_service.proto")
    (service,) = [s for s in service_file.service if s.name == "CustomerService"]
    assert {m.name for m in service.method} == {
        "GetCustomer",
        "ListCustomers",
        "CreateCustomer",
        "UpdateCustomer",
        "DeleteCustomer",
        "SearchCustomers",
        "GrantConsent",
        "WithdrawConsent",
        "ListConsentChanges",
        "CreateNote",
        "ListNotes",
        "ImportCustomers",
        "StreamCustomers",
        "FindDuplicates",
        "MergeCustomers",
        "UnmergeCustomers",
        "GetMerge",
    }
