"""The ceilings, built from the same stack as the real servers.

python -m bench.echo grpc --address 127.0.0.1:PORT
    a bare grpc.aio server with one unary method that returns its request bytes
    (a generic handler: no proto, no (de)serialisation, no interceptors);
python -m bench.echo http --address 127.0.0.1:PORT --target 127.0.0.1:GRPC_PORT
    uvicorn + Starlette, the way `python -m gateway` runs them, with two routes that
    call that echo over one grpc.aio channel: GET /echo/{text} and POST /echo (the
    body goes to the echo and comes back as the JSON response).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import grpc

ECHO_SERVICE = "atelier.bench.v1.Echo"
ECHO_METHOD = f"/{ECHO_SERVICE}/Echo"


async def serve_grpc(address: str, interceptor_secret: str = "") -> None:
    interceptors = []
    if interceptor_secret:
        # The customer service's interceptor stack (for breaking a gap down, not a ceiling).
        from opentelemetry.instrumentation.grpc import aio_server_interceptor

        from servicekit import telemetry
        from servicekit.interceptors import RequestContextInterceptor

        telemetry.configure("bench-echo", "WARNING")
        interceptors = [aio_server_interceptor(), RequestContextInterceptor(interceptor_secret)]
    server = grpc.aio.server(interceptors=interceptors, options=[("grpc.so_reuseport", 0)])

    async def echo(request: bytes, context) -> bytes:
        return request

    handler = grpc.method_handlers_generic_handler(ECHO_SERVICE, {"Echo": grpc.unary_unary_rpc_method_handler(echo)})
    server.add_generic_rpc_handlers((handler,))
    if server.add_insecure_port(address) == 0:
        raise SystemExit(f"cannot bind {address}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(1)


def http_app(target: str):
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    state: dict[str, object] = {}

    def call():
        # Opened on first use: a grpc.aio channel belongs to the running loop.
        if "call" not in state:
            state["channel"] = grpc.aio.insecure_channel(target)
            state["call"] = state["channel"].unary_unary(ECHO_METHOD)  # type: ignore[attr-defined]
        return state["call"]

    async def echo_get(request: Request) -> Response:
        reply = await call()(request.path_params["text"].encode(), timeout=10)  # type: ignore[operator]
        return JSONResponse({"echo": reply.decode()})

    async def echo_post(request: Request) -> Response:
        reply = await call()(await request.body(), timeout=10)  # type: ignore[operator]
        return Response(reply, media_type="application/json")

    return Starlette(
        routes=[
            Route("/echo/{text}", echo_get, methods=["GET"]),
            Route("/echo", echo_post, methods=["POST"]),
        ]
    )


def serve_http(address: str, target: str) -> None:
    import uvicorn

    host, _, port = address.rpartition(":")
    # As gateway/__main__.py runs uvicorn (same http/loop implementations, no access log
    # handler), so the ceiling pays what the gateway pays for HTTP.
    uvicorn.run(http_app(target), host=host, port=int(port), log_level="warning", log_config=None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.echo")
    sub = parser.add_subparsers(dest="kind", required=True)
    g = sub.add_parser("grpc")
    g.add_argument("--address", required=True)
    g.add_argument(
        "--servicekit-interceptors",
        metavar="SECRET",
        default="",
        help="install the services' interceptors (OpenTelemetry + servicekit request context) with this internal secret",
    )
    h = sub.add_parser("http")
    h.add_argument("--address", required=True)
    h.add_argument("--target", required=True, help="host:port of the gRPC echo")
    args = parser.parse_args(argv)
    if args.kind == "grpc":
        asyncio.run(serve_grpc(args.address, args.servicekit_interceptors))
    else:
        serve_http(args.address, args.target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
