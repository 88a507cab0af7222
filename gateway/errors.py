"""gRPC status → HTTP error response, in Google's JSON error shape.

    {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "...",
               "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                            "fieldViolations": [{"field": "...", "description": "..."}]}]}}

Errors found by the gateway itself (bad JSON, unknown field, bad query parameter, missing
token) use the same shape, so a client has one error format to read.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import grpc
from google.protobuf import any_pb2, json_format
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from starlette.responses import Response

from servicekit.status import ERROR_DOMAIN

log = logging.getLogger(__name__)

# https://github.com/googleapis/googleapis/blob/master/google/rpc/code.proto
HTTP_STATUS: dict[int, int] = {
    code_pb2.OK: 200,
    code_pb2.CANCELLED: 499,
    code_pb2.UNKNOWN: 500,
    code_pb2.INVALID_ARGUMENT: 400,
    code_pb2.DEADLINE_EXCEEDED: 504,
    code_pb2.NOT_FOUND: 404,
    code_pb2.ALREADY_EXISTS: 409,
    code_pb2.PERMISSION_DENIED: 403,
    code_pb2.UNAUTHENTICATED: 401,
    code_pb2.RESOURCE_EXHAUSTED: 429,
    code_pb2.FAILED_PRECONDITION: 400,
    code_pb2.ABORTED: 409,
    code_pb2.OUT_OF_RANGE: 400,
    code_pb2.UNIMPLEMENTED: 501,
    code_pb2.INTERNAL: 500,
    code_pb2.UNAVAILABLE: 503,
    code_pb2.DATA_LOSS: 500,
}


def http_status(code: int) -> int:
    return HTTP_STATUS.get(code, 500)


def code_name(code: int) -> str:
    try:
        name: str = code_pb2.Code.Name(code)
    except ValueError:
        return "UNKNOWN"
    return name


class GatewayError(Exception):
    """An error the gateway answers itself, before or instead of calling a service."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        violations: list[tuple[str, str]] | None = None,
        reason: str = "",
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.violations = list(violations or [])
        self.reason = reason or code_name(code)
        self.headers = dict(headers or {})

    def to_status(self) -> status_pb2.Status:
        status = status_pb2.Status(code=self.code, message=self.message)
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN)
        _pack(status, info)
        if self.violations:
            _pack(
                status,
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(field=f, description=d) for f, d in self.violations
                    ]
                ),
            )
        return status


def bad_request(violations: list[tuple[str, str]], message: str = "") -> GatewayError:
    if not message:
        message = "invalid request: " + ", ".join(f for f, _ in violations)
    return GatewayError(code_pb2.INVALID_ARGUMENT, message, violations=violations)


def _pack(status: status_pb2.Status, detail: Message) -> None:
    packed = any_pb2.Any()
    packed.Pack(detail)
    status.details.append(packed)


def status_from_rpc_error(error: grpc.RpcError, rich: status_pb2.Status | None) -> status_pb2.Status:
    if rich is not None:
        return rich
    code = error.code() if callable(getattr(error, "code", None)) else grpc.StatusCode.UNKNOWN
    details = error.details() if callable(getattr(error, "details", None)) else ""
    return status_pb2.Status(code=code.value[0], message=details or "")


def error_body(status: status_pb2.Status, http_code: int | None = None) -> dict[str, Any]:
    details = []
    for detail in status.details:
        try:
            details.append(json_format.MessageToDict(detail))
        except (TypeError, KeyError, json_format.Error):
            # A detail type this gateway has no descriptor for still reaches the client.
            details.append({"@type": detail.type_url, "value": base64.b64encode(detail.value).decode("ascii")})
    error: dict[str, Any] = {
        "code": http_code or http_status(status.code),
        "status": code_name(status.code),
        "message": status.message,
    }
    if details:
        error["details"] = details
    return {"error": error}


def error_response(
    status: status_pb2.Status, headers: dict[str, str] | None = None, http_code: int | None = None
) -> Response:
    """`http_code` overrides the mapped status, for HTTP-only conditions such as 405."""
    body = json.dumps(error_body(status, http_code), ensure_ascii=False, separators=(",", ":"))
    return Response(
        body,
        status_code=http_code or http_status(status.code),
        media_type="application/json",
        headers=headers,
    )


def gateway_error_response(error: GatewayError) -> Response:
    return error_response(error.to_status(), headers=error.headers)
