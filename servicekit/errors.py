"""Domain errors and their rich gRPC status (google.rpc.Status with ErrorInfo / BadRequest).

Domain code raises these; the error-mapping interceptor turns them into a status the
client can read with grpc_status.rpc_status.from_call, and the gateway into HTTP JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "atelier.dev"


class AtelierError(Exception):
    code: int = code_pb2.INTERNAL
    reason: str = "INTERNAL"

    def __init__(self, message: str, *, reason: str | None = None, metadata: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if reason:
            self.reason = reason
        self.metadata = dict(metadata or {})

    def details(self) -> list:
        return [error_details_pb2.ErrorInfo(reason=self.reason, domain=ERROR_DOMAIN, metadata=self.metadata)]

    def to_status_proto(self) -> status_pb2.Status:
        status = status_pb2.Status(code=self.code, message=self.message)
        for detail in self.details():
            packed = any_pb2.Any()
            packed.Pack(detail)
            status.details.append(packed)
        return status

    def to_grpc_status(self) -> grpc.Status:
        return rpc_status.to_status(self.to_status_proto())


@dataclass
class Violations:
    """Collects every bad field of a request so the caller learns all of them at once."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, field_path: str, description: str) -> None:
        self.items.append((field_path, description))

    def require(self, condition: bool, field_path: str, description: str) -> None:
        if not condition:
            self.add(field_path, description)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items)


class InvalidArgument(AtelierError):
    code = code_pb2.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"

    def __init__(self, violations: list[tuple[str, str]]):
        fields = ", ".join(f for f, _ in violations)
        super().__init__(f"invalid request: {fields}")
        self.violations = violations

    def details(self) -> list:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                for f, d in self.violations
            ]
        )
        return [*super().details(), bad]


def invalid(field_path: str, description: str) -> InvalidArgument:
    return InvalidArgument([(field_path, description)])


class NotFound(AtelierError):
    code = code_pb2.NOT_FOUND
    reason = "NOT_FOUND"

    def __init__(self, resource: str):
        super().__init__(f"{resource} not found", metadata={"resource": resource})


class AlreadyExists(AtelierError):
    code = code_pb2.ALREADY_EXISTS
    reason = "ALREADY_EXISTS"


class Aborted(AtelierError):
    code = code_pb2.ABORTED
    reason = "ABORTED"


class FailedPrecondition(AtelierError):
    code = code_pb2.FAILED_PRECONDITION
    reason = "FAILED_PRECONDITION"


class PermissionDenied(AtelierError):
    code = code_pb2.PERMISSION_DENIED
    reason = "PERMISSION_DENIED"


class Unauthenticated(AtelierError):
    code = code_pb2.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"


class Unavailable(AtelierError):
    code = code_pb2.UNAVAILABLE
    reason = "UNAVAILABLE"


def internal_status(message: str = "internal error") -> grpc.Status:
    return AtelierError(message).to_grpc_status()
