"""The gateway's Starlette application: routes, identity, the transcoded call.

    app = create_app(Settings.from_env())

Public routes: `GET /healthz`, `GET /openapi.json`, `GET /docs` (no credentials); every
other path is matched against the `google.api.http` rules of the fronted services and
needs a bearer token.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator

import grpc
from google.protobuf.message import Message
from google.rpc import code_pb2, status_pb2
from grpc_status import rpc_status
from opentelemetry import trace
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as ASGIMessage

from gateway import health
from gateway.channels import Channels
from gateway.comments import load_comments
from gateway.docs import render_docs
from gateway.errors import GatewayError, error_response, gateway_error_response, status_from_rpc_error
from gateway.identity import Identity
from gateway.openapi import build_openapi
from gateway.registry import resolve
from gateway.settings import Settings
from gateway.transcode import build_operations, build_request, render_response
from servicekit import telemetry
from servicekit.auth import PRINCIPAL_METADATA_KEY

log = logging.getLogger("gateway")
_tracer = telemetry.tracer("atelier.gateway")

REQUEST_ID_HEADER = "x-request-id"
PURPOSE_HEADER = "x-atelier-purpose"
# gRPC metadata values are printable ASCII.
_PURPOSE_JUNK = re.compile(r"[^\x20-\x7e]")
_REQUEST_ID_SCOPE_KEY = "atelier.request_id"
# A caller's id is reused only when it is safe to log and to send as gRPC metadata.
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
# The default maximum gRPC message; a larger body could never reach a service anyway.
MAX_BODY_BYTES = 4 * 1024 * 1024


class RequestIdMiddleware:
    """Gives every request an id, and every response the X-Request-Id header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                candidate = value.decode("latin-1")
                if _ACCEPTABLE_REQUEST_ID.fullmatch(candidate):
                    request_id = candidate
                break
        if not request_id:
            request_id = uuid.uuid4().hex
        scope[_REQUEST_ID_SCOPE_KEY] = request_id

        async def send_with_id(message: ASGIMessage) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


def request_id_of(request: Request) -> str:
    request_id = request.scope.get(_REQUEST_ID_SCOPE_KEY)
    return request_id if isinstance(request_id, str) and request_id else uuid.uuid4().hex


class Gateway:
    """Everything one request needs, built once at start."""

    def __init__(self, settings: Settings) -> None:
        settings.check()
        self.settings = settings
        if settings.development:
            # A warning only when development mode is what lets a weak secret through.
            weak = settings.weak_secrets()
            if weak:
                log.warning(
                    "gateway: development mode (ATELIER_ENV=development); accepted only because of it: %s",
                    "; ".join(weak),
                )
            else:
                log.info("gateway: development mode (ATELIER_ENV=development)")
        self.backends = resolve(settings.service_addresses, settings.backends)
        if not self.backends:
            log.warning("gateway: no backend is fronted; only /healthz, /openapi.json and /docs answer")
        self.router, self.operations = build_operations(self.backends)
        self.channels = Channels({b.name: b.address for b in self.backends})
        self.identity = Identity(settings.verifier, settings.internal_secret)
        self.openapi = build_openapi(self.operations, comments=load_comments(settings.descriptor_set))
        self.openapi_body = json.dumps(self.openapi, ensure_ascii=False).encode("utf-8")
        self.docs_html = render_docs(self.openapi)
        for backend in self.backends:
            count = sum(1 for op in self.operations if op.backend == backend.name)
            log.info("gateway: fronting %s at %s with %d routes", backend.name, backend.address, count)
        for op in self.operations:
            log.debug("gateway: %s %s → %s", op.binding.method, op.binding.template.text, op.grpc_path)

    async def healthz(self, request: Request) -> Response:
        healthy, body = await health.check_all(self.channels, self.settings.health_deadline_seconds)
        return JSONResponse(body, status_code=200 if healthy else 503)

    async def openapi_json(self, request: Request) -> Response:
        return Response(self.openapi_body, media_type="application/json")

    async def docs(self, request: Request) -> Response:
        return HTMLResponse(self.docs_html)

    async def transcode(self, request: Request) -> Response:
        try:
            return await self._transcode(request)
        except GatewayError as exc:
            return gateway_error_response(exc)
        except Exception:
            # A bug here must still answer in the one error shape, and say which request.
            log.exception("gateway: unexpected error (request %s)", request_id_of(request))
            return gateway_error_response(GatewayError(code_pb2.INTERNAL, "internal error"))

    async def _transcode(self, request: Request) -> Response:
        request_id = request_id_of(request)
        # Credentials first: an anonymous caller learns nothing about routes or fields.
        principal = self.identity.authenticate(request.headers.get("authorization"))
        path = _raw_path(request)
        match = self.router.match(request.method, path)
        if match is None:
            allowed = self.router.allowed_methods(path)
            if allowed:
                return _method_not_allowed(request.method, path, allowed)
            raise GatewayError(code_pb2.NOT_FOUND, f"no API route for {request.method} {path}")
        op = match.route
        body = await _read_body(request) if op.binding.body else b""
        message = build_request(op, match.variables, request.query_params.multi_items(), body)

        metadata = [
            (REQUEST_ID_HEADER, request_id),
            (PRINCIPAL_METADATA_KEY, self.identity.internal_token(principal)),
        ]
        # Why personal data is read, recorded by the services' audit trail.
        purpose = _PURPOSE_JUNK.sub("", request.headers.get(PURPOSE_HEADER, ""))[:200].strip()
        if purpose:
            metadata.append((PURPOSE_HEADER, purpose))
        parent = telemetry.extract_context(request.headers)
        with _tracer.start_as_current_span(
            f"{op.binding.method} {op.binding.template.text}",
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes={"rpc.method": op.grpc_path, "atelier.request_id": request_id},
        ) as span:
            # The services continue this trace (traceparent / tracestate in metadata).
            metadata.extend(telemetry.inject_context({}).items())
            call = op.callable_for(self.channels.get(op.backend))(
                message, timeout=self.settings.deadline_seconds, metadata=tuple(metadata)
            )
            try:
                response = await call
            except grpc.aio.AioRpcError as exc:
                status = await _rich_status(call, exc)
                span.set_attribute("rpc.grpc.status_code", status.code)
                server_side = status.code in _SERVER_SIDE
                if server_side:
                    span.set_status(trace.Status(trace.StatusCode.ERROR, exc.code().name))
                level = logging.WARNING if server_side else logging.DEBUG
                log.log(
                    level,
                    "gateway: %s failed: %s %s (request %s)",
                    op.grpc_path,
                    exc.code().name,
                    exc.details(),
                    request_id,
                )
                return error_response(status)
        return Response(render_response(op, response), media_type="application/json")


_SERVER_SIDE = {
    code_pb2.UNKNOWN,
    code_pb2.INTERNAL,
    code_pb2.UNAVAILABLE,
    code_pb2.DEADLINE_EXCEEDED,
    code_pb2.DATA_LOSS,
    code_pb2.UNIMPLEMENTED,
}


async def _rich_status(call: grpc.aio.UnaryUnaryCall[Message, Message], exc: grpc.aio.AioRpcError) -> status_pb2.Status:
    try:
        rich = await rpc_status.aio.from_call(call)
    except ValueError:
        # The details trailer disagrees with the status line; trust the status line.
        rich = None
    return status_from_rpc_error(exc, rich)


def _raw_path(request: Request) -> str:
    # The raw path keeps percent-escapes, so an encoded "/" or ":" inside an id is not
    # mistaken for a separator (gateway.http_rules decodes each bound segment).
    raw = request.scope.get("raw_path")
    if not isinstance(raw, bytes):
        return request.url.path
    path = raw.split(b"?", 1)[0].decode("latin-1")
    root = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large() -> GatewayError:
    return GatewayError(
        code_pb2.INVALID_ARGUMENT,
        f"the request body is larger than {MAX_BODY_BYTES} bytes",
        violations=[("body", f"at most {MAX_BODY_BYTES} bytes")],
    )


def _method_not_allowed(method: str, path: str, allowed: list[str]) -> Response:
    status = GatewayError(code_pb2.UNIMPLEMENTED, f"{method} is not allowed on {path}").to_status()
    return error_response(status, headers={"Allow": ", ".join(allowed)}, http_code=405)


class _TranscodeEndpoint:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.gateway.transcode(Request(scope, receive))
        await response(scope, receive, send)


def create_app(settings: Settings) -> Starlette:
    """The gateway app; raises servicekit.config.ConfigError when settings are unusable."""
    gateway = Gateway(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await gateway.channels.close()

    transcoder = _TranscodeEndpoint(gateway)
    app = Starlette(
        routes=[
            Route("/healthz", gateway.healthz, methods=["GET"]),
            Route("/openapi.json", gateway.openapi_json, methods=["GET"]),
            Route("/docs", gateway.docs, methods=["GET"]),
            # An ASGI app (not a function) keeps methods=None, so every verb reaches the
            # transcoder, which answers 404/405 itself in the JSON error shape (also for
            # e.g. POST /healthz).
            Route("/{path:path}", transcoder, methods=None),
        ],
        lifespan=lifespan,
    )
    # Starlette's path patterns do not match a decoded newline inside the path
    # (`/v1/customers/%0Ac1`); such requests reach the transcoder as the router's default
    # instead of Starlette's plain-text 404, and are refused there in the JSON shape. API
    # paths are exact: no slash redirects.
    app.router.default = transcoder
    app.router.redirect_slashes = False
    app.state.gateway = gateway
    app.add_middleware(RequestIdMiddleware)
    return app
