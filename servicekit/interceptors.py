"""Server interceptors: caller principal, request id, access log and error mapping.

One interceptor does all four because they share the same wrapping of the handler and
the same per-call context; OpenTelemetry's own aio interceptor runs before it so trace
ids are in the log lines.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

import grpc

from servicekit import context
from servicekit.auth import PRINCIPAL_METADATA_KEY, AuthError, PrincipalTokenCache
from servicekit.errors import AtelierError, Unauthenticated
from servicekit.status import grpc_code, internal_status, to_grpc_status

log = logging.getLogger("atelier.rpc")

# Infrastructure endpoints that answer without a principal.
_OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


class RequestContextInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, internal_secret: str):
        self._tokens = PrincipalTokenCache(internal_secret)
        # Handlers are static per method, so each is wrapped once, not on every call.
        self._wrapped: dict[str, grpc.RpcMethodHandler | None] = {}

    async def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        if method in self._wrapped:
            return self._wrapped[method]
        handler = await continuation(handler_call_details)
        if handler is not None and not method.startswith(_OPEN_PREFIXES):
            handler = _wrap(handler, self._enter, method)
        self._wrapped[method] = handler
        return handler

    def _enter(self, ctx: grpc.aio.ServicerContext) -> None:
        token, request_id = "", ""
        for key, value in ctx.invocation_metadata() or ():
            if key == PRINCIPAL_METADATA_KEY:
                token = value
            elif key == "x-request-id":
                request_id = value
        principal = None
        if token:
            try:
                principal = self._tokens.verify(token)
            except AuthError as exc:
                raise Unauthenticated(str(exc), reason="BAD_PRINCIPAL_TOKEN") from None
        context.set_caller(principal, request_id or str(uuid.uuid4()))


def _wrap(handler: grpc.RpcMethodHandler, enter: Callable, method: str) -> grpc.RpcMethodHandler:
    async def guard(ctx: grpc.aio.ServicerContext, call):
        started = time.perf_counter()
        outcome = "OK"
        try:
            enter(ctx)
            return await call()
        except AtelierError as exc:
            outcome = grpc_code(exc).name
            await ctx.abort_with_status(to_grpc_status(exc))
        except (grpc.aio.AbortError, grpc.RpcError):
            outcome = "ABORTED_BY_HANDLER"
            raise
        except Exception:
            outcome = "INTERNAL"
            log.exception("unhandled error in %s", method)
            await ctx.abort_with_status(internal_status())
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

    if handler.unary_unary:
        inner = handler.unary_unary

        async def unary_unary(request, ctx):
            return await guard(ctx, lambda: inner(request, ctx))

        return grpc.unary_unary_rpc_method_handler(
            unary_unary, handler.request_deserializer, handler.response_serializer
        )
    if handler.stream_unary:
        inner_su = handler.stream_unary

        async def stream_unary(requests, ctx):
            return await guard(ctx, lambda: inner_su(requests, ctx))

        return grpc.stream_unary_rpc_method_handler(
            stream_unary, handler.request_deserializer, handler.response_serializer
        )
    # Server streaming: errors raised between items map the same way as unary ones.
    inner_stream = handler.unary_stream or handler.stream_stream

    async def streaming(request_or_iterator, ctx):
        try:
            enter(ctx)
            async for item in inner_stream(request_or_iterator, ctx):
                yield item
        except AtelierError as exc:
            await ctx.abort_with_status(to_grpc_status(exc))
        except (grpc.aio.AbortError, grpc.RpcError, GeneratorExit):
            raise
        except Exception:
            log.exception("unhandled error in %s", method)
            await ctx.abort_with_status(internal_status())

    factory = (
        grpc.unary_stream_rpc_method_handler
        if handler.unary_stream
        else grpc.stream_stream_rpc_method_handler
    )
    return factory(streaming, handler.request_deserializer, handler.response_serializer)

