"""Is a child ready? gRPC health for services; for the gateway, GET /healthz answered by
the gateway this mesh started (not whatever else listens on its port).

Stdlib HTTP on purpose: httpx is a dev-only dependency and `atelier up` must run from
a plain install.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import psutil

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
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True when GET ``url`` answers 200."""
    try:
        with _DIRECT.open(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def listens_on(pid: int, port: int) -> bool:
    """True when process ``pid`` (or one of its descendants) holds the listening TCP
    socket on ``port``: the proof that an answer on that port comes from our process and
    not from another program (or another mesh) that bound the port first."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return False
    for process in processes:
        try:
            connections = process.net_connections(kind="tcp")
        except psutil.Error:
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in connections):
            return True
    return False
