"""Server interceptor: caller principal, request id, request checks, access log and error
mapping.

One interceptor does all of these because they share the same wrapping of the handler
and the same per-call context; OpenTelemetry's own aio interceptor runs before it so
trace ids are in the log lines. What every RPC gets, whatever its servicer:

* the verified caller and the request id in the call's context (servicekit.context);
* INVALID_ARGUMENT naming the field when the request fails a request check (a NUL in a
  string, a Timestamp out of range, an undefined enum number, a string that is not UTF-8:
  servicekit.request_checks), before the servicer runs;
* an AtelierError raised anywhere below becomes its rich status; a database that is
  not there (refused or lost connections, pool exhausted) becomes UNAVAILABLE and a
  transaction conflict ABORTED (servicekit.db.as_atelier_error); anything else is
  INTERNAL, logged with its traceback, database errors without the values they quote.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeAlias, cast

import grpc
from google.protobuf.message import DecodeError, Message

from servicekit import context, db, telemetry
from servicekit.auth import PRINCIPAL_METADATA_KEY, AuthError, Principal, PrincipalTokenCache
from servicekit.errors import AtelierError, InvalidArgument, Unauthenticated
from servicekit.request_checks import may_hold_nul, request_violations, undecodable_violations
from servicekit.status import grpc_code, internal_status, to_grpc_status

log = telemetry.logger("atelier.rpc")

# Infrastructure endpoints that answer without a principal.
_OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

# (Strings: grpc's classes are generic in the stubs only.)
Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
# What grpc.aio calls for each shape of RPC (the stubs type them as synchronous).
Unary: TypeAlias = "Callable[[object, Context], Awaitable[object]]"
Streaming: TypeAlias = "Callable[[object, Context], AsyncIterator[object]]"
Deserializer: TypeAlias = Callable[[bytes], object]
# Raises (servicekit.errors.PermissionDenied) to refuse a verified caller.
CallerCheck: TypeAlias = Callable[[Principal], Awaitable[None]]


@dataclass(frozen=True)
class _Rejected:
    """What the checking deserializer hands over instead of a request that failed a
    request check; the handler wrapper raises it as the call's error."""

    violations: list[tuple[str, str]]


class RequestContextInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, internal_secret: str):
        self._tokens = PrincipalTokenCache(internal_secret)
        # The service's own word on a verified caller (e.g. a departed associate is
        # refused everywhere): awaited on every RPC once the principal verifies.
        self.caller_gate: CallerCheck | None = None
        # Handlers are static per method, so each is wrapped once, not on every call.
        self._wrapped: dict[str, Handler | None] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        method = handler_call_details.method
        if method in self._wrapped:
            return self._wrapped[method]
        handler = await continuation(handler_call_details)
        if handler is not None and not method.startswith(_OPEN_PREFIXES):
            handler = _wrap(handler, self._enter, method)
        self._wrapped[method] = handler
        return handler

    async def _enter(self, ctx: Context) -> None:
        token, request_id = "", ""
        for key, value in ctx.invocation_metadata() or ():
            if key == PRINCIPAL_METADATA_KEY and isinstance(value, str):
                token = value
            elif key == "x-request-id" and isinstance(value, str):
                request_id = value
        principal = None
        if token:
            try:
                principal = self._tokens.verify(token)
            except AuthError as exc:
                raise Unauthenticated(str(exc), reason="BAD_PRINCIPAL_TOKEN") from None
        context.set_caller(principal, request_id or str(uuid.uuid4()))
        if principal is not None and self.caller_gate is not None:
            await self.caller_gate(principal)


def _checking(deserializer: Deserializer | None) -> Deserializer | None:
    """The request deserializer, plus the request checks; a request the protobuf parser
    refuses (a string that is not UTF-8) is rejected naming the field too."""
    if deserializer is None:
        return None
    inner = deserializer

    def deserialize(wire: bytes) -> object:
        try:
            request = inner(wire)
        except DecodeError:
            return _Rejected(undecodable_violations(inner, wire))
        if isinstance(request, Message):
            found = request_violations(request, may_hold_nul(wire))
            if found:
                return _Rejected(found)
        return request

    return deserialize


def _checked(request: object) -> object:
    if isinstance(request, _Rejected):
        raise InvalidArgument(request.violations)
    return request


async def _checked_stream(requests: AsyncIterator[object]) -> AsyncIterator[object]:
    async for request in requests:
        yield _checked(request)


def _status(exc: Exception, method: str) -> grpc.Status | None:
    """The status an error raised below the interceptor answers with; None for a fault
    (INTERNAL, logged by the caller with its traceback)."""
    if isinstance(exc, AtelierError):
        return to_grpc_status(exc)
    mapped = db.as_atelier_error(exc)
    if mapped is not None:
        log.warning("%s answered %s: %s", method, grpc_code(mapped).name, db.describe(exc))
        return to_grpc_status(mapped)
    return None


def _wrap(handler: Handler, enter: Callable[[Context], Awaitable[None]], method: str) -> Handler:
    async def guard(ctx: Context, call: Callable[[], Awaitable[object]]) -> object:
        started = time.perf_counter()
        outcome = "OK"
        try:
            await enter(ctx)
            return await call()
        except (grpc.aio.AbortError, grpc.RpcError):
            outcome = "ABORTED_BY_HANDLER"
            raise
        except Exception as exc:
            status = _status(exc, method)
            if status is None:
                outcome = "INTERNAL"
                log.exception("unhandled error in %s", method)
                status = internal_status()
            else:
                outcome = status.code.name
            await ctx.abort_with_status(status)
        finally:
            log.info(
                "rpc",
                extra={
                    "fields": {
                        "rpc.method": method,
                        "rpc.code": outcome,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        "request_id": context.request_id(),
                    }
                },
            )

    deserialize = _checking(cast(Deserializer | None, handler.request_deserializer))
    serialize = handler.response_serializer
    if handler.unary_unary:
        inner_uu = cast("Unary", handler.unary_unary)

        async def unary_unary(request: object, ctx: Context) -> object:
            return await guard(ctx, lambda: inner_uu(_checked(request), ctx))

        return grpc.unary_unary_rpc_method_handler(unary_unary, deserialize, serialize)
    if handler.stream_unary:
        inner_su = cast("Unary", handler.stream_unary)

        async def stream_unary(requests: object, ctx: Context) -> object:
            checked = _checked_stream(cast(AsyncIterator[object], requests))
            return await guard(ctx, lambda: inner_su(checked, ctx))

        return grpc.stream_unary_rpc_method_handler(stream_unary, deserialize, serialize)

    # Server streaming: errors raised between items map the same way as unary ones.
    inner_stream = cast("Streaming", handler.unary_stream or handler.stream_stream)
    client_streams = handler.stream_stream is not None

    async def streaming(request_or_iterator: object, ctx: Context) -> AsyncIterator[object]:
        try:
            await enter(ctx)
            request = (
                _checked_stream(cast(AsyncIterator[object], request_or_iterator))
                if client_streams
                else _checked(request_or_iterator)
            )
            async for item in inner_stream(request, ctx):
                yield item
        except (grpc.aio.AbortError, grpc.RpcError, GeneratorExit):
            raise
        except Exception as exc:
            status = _status(exc, method)
            if status is None:
                log.exception("unhandled error in %s", method)
                status = internal_status()
            await ctx.abort_with_status(status)

    factory = grpc.stream_stream_rpc_method_handler if client_streams else grpc.unary_stream_rpc_method_handler
    return factory(streaming, deserialize, serialize)
