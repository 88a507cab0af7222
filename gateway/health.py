"""`GET /healthz`: the gateway is healthy when every backend it fronts answers SERVING.

Each backend is asked the gRPC health checking protocol's Check for the whole server
(service ""), all at once, each with a short deadline so a hung backend cannot hang the
probe.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from grpc_health.v1 import health_pb2

from gateway.channels import Channels

_CHECK = "/grpc.health.v1.Health/Check"
SERVING = "SERVING"
NOT_SERVING = "NOT_SERVING"


async def check_backend(channel: grpc.aio.Channel, deadline: float) -> str:
    check = channel.unary_unary(
        _CHECK,
        request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
        response_deserializer=health_pb2.HealthCheckResponse.FromString,
    )
    try:
        response = await check(health_pb2.HealthCheckRequest(service=""), timeout=deadline)
    except grpc.aio.AioRpcError as exc:
        # UNAVAILABLE, DEADLINE_EXCEEDED, UNIMPLEMENTED... tell the operator which.
        return exc.code().name
    name: str = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    return name


async def check_all(channels: Channels, deadline: float) -> tuple[bool, dict[str, Any]]:
    """(healthy, the /healthz body: overall status and each backend's)."""
    names = channels.names
    results = await asyncio.gather(*(check_backend(channels.get(n), deadline) for n in names))
    services = dict(zip(names, results, strict=True))
    healthy = all(status == SERVING for status in results)
    return healthy, {"status": SERVING if healthy else NOT_SERVING, "services": services}
