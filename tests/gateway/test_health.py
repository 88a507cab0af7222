"""GET /healthz asks every fronted backend the gRPC health Check for service ""."""

from __future__ import annotations

from grpc_health.v1 import health_pb2

from tests.gateway.conftest import unused_address


async def test_serving(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "SERVING", "services": {"customer": "SERVING"}}


async def test_not_serving(client, backend):
    await backend.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    try:
        response = await client.get("/healthz")
    finally:
        await backend.health.set("", health_pb2.HealthCheckResponse.SERVING)
    assert response.status_code == 503
    assert response.json() == {"status": "NOT_SERVING", "services": {"customer": "NOT_SERVING"}}
    assert (await client.get("/healthz")).status_code == 200


async def test_unreachable_backend(make_client):
    http = await make_client({"customer": unused_address()})
    response = await http.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "NOT_SERVING", "services": {"customer": "UNAVAILABLE"}}
