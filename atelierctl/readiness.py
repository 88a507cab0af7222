"""Is a child ready? gRPC health for services, GET /healthz for the gateway.

Stdlib HTTP on purpose: httpx is a dev-only dependency and `atelier up` must run from
a plain install.
"""

from __future__ import annotations

import urllib.error
import urllib.request

# Never via an HTTP proxy from the environment: the gateway is on 127.0.0.1.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def grpc_serving(address: str, timeout: float = 1.0) -> bool:
    """True when the server at ``address`` answers grpc.health.v1 Check("") with SERVING."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address, options=[("grpc.enable_http_proxy", 0)]) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout
            )
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True when GET ``url`` answers 200."""
    try:
        with _DIRECT.open(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False
