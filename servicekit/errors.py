"""Errors every layer may raise, with no gRPC or protobuf in sight.

Domain rules raise these (they are plain exceptions with a canonical code, a machine
reason and metadata); the api edge turns them into a rich `google.rpc.Status`
(servicekit.status) and the gateway into HTTP JSON. Keeping this module free of wire
types is what lets `domain/` packages stay pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import IntEnum
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Code(IntEnum):
    """The canonical codes of google.rpc.Code (same numbers), without importing it."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class AtelierError(Exception):
    code: Code = Code.INTERNAL
    reason: str = "INTERNAL"

    def __init__(self, message: str, *, reason: str | None = None, metadata: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if reason:
            self.reason = reason
        self.metadata = dict(metadata or {})


class InvalidArgument(AtelierError):
    code = Code.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"

    def __init__(self, violations: list[tuple[str, str]]):
        fields = ", ".join(f for f, _ in violations)
        super().__init__(f"invalid request: {fields}")
        self.violations = violations


@dataclass
class Violations:
    """Collects every bad field of a request so the caller learns all of them at once.

    Checks that raise `InvalidArgument` on their own (parsing a resource name, a request
    id, a page token) are folded in with `take` or `collect`, which catch that one error
    type and nothing else: a real fault still surfaces as one.
    """

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, field_path: str, description: str) -> None:
        self.items.append((field_path, description))

    def require(self, condition: bool, field_path: str, description: str) -> None:
        if not condition:
            self.add(field_path, description)

    def take(self, check: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
        """`check(*args, **kwargs)`, or None with its violations collected."""
        try:
            return check(*args, **kwargs)
        except InvalidArgument as exc:
            self.items.extend(exc.violations)
            return None

    @contextmanager
    def collect(self) -> Iterator[None]:
        """Run a block whose InvalidArgument is collected instead of raised."""
        try:
            yield
        except InvalidArgument as exc:
            self.items.extend(exc.violations)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items)


def invalid(field_path: str, description: str) -> InvalidArgument:
    return InvalidArgument([(field_path, description)])


class NotFound(AtelierError):
    code = Code.NOT_FOUND
    reason = "NOT_FOUND"

    def __init__(self, resource: str):
        super().__init__(f"{resource} not found", metadata={"resource": resource})


class AlreadyExists(AtelierError):
    code = Code.ALREADY_EXISTS
    reason = "ALREADY_EXISTS"


class Aborted(AtelierError):
    code = Code.ABORTED
    reason = "ABORTED"


class FailedPrecondition(AtelierError):
    code = Code.FAILED_PRECONDITION
    reason = "FAILED_PRECONDITION"


class PermissionDenied(AtelierError):
    code = Code.PERMISSION_DENIED
    reason = "PERMISSION_DENIED"


class Unauthenticated(AtelierError):
    code = Code.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"


class Unavailable(AtelierError):
    code = Code.UNAVAILABLE
    reason = "UNAVAILABLE"
