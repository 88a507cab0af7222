"""The api edge's half of errors: an AtelierError as a rich `google.rpc.Status`.

ErrorInfo (reason, domain, metadata) on every error, BadRequest with one field violation
per bad field on INVALID_ARGUMENT; clients read them with
grpc_status.rpc_status.from_call, the gateway turns them into Google-style HTTP JSON.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from servicekit.errors import AtelierError, InvalidArgument

ERROR_DOMAIN = "atelier.dev"


def details(error: AtelierError) -> list[Message]:
    found: list[Message] = [
        error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata)
    ]
    if isinstance(error, InvalidArgument):
        found.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f, description=d) for f, d in error.violations
                ]
            )
        )
    return found


def to_status_proto(error: AtelierError) -> status_pb2.Status:
    status = status_pb2.Status(code=int(error.code), message=error.message)
    for detail in details(error):
        packed = any_pb2.Any()
        packed.Pack(detail)
        status.details.append(packed)
    return status


def to_grpc_status(error: AtelierError) -> grpc.Status:
    status: grpc.Status = rpc_status.to_status(to_status_proto(error))
    return status


def grpc_code(error: AtelierError) -> grpc.StatusCode:
    for code in grpc.StatusCode:
        if code.value[0] == int(error.code):
            return code
    return grpc.StatusCode.UNKNOWN


def internal_status(message: str = "internal error") -> grpc.Status:
    return to_grpc_status(AtelierError(message))
