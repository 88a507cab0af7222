"""Per-request context: the verified caller and the request id, for the current task."""

from __future__ import annotations

from contextvars import ContextVar

from servicekit.auth import Principal
from servicekit.errors import Unauthenticated

_principal: ContextVar[Principal | None] = ContextVar("atelier_principal", default=None)
_request_id: ContextVar[str] = ContextVar("atelier_request_id", default="")


def set_caller(principal: Principal | None, request_id: str) -> None:
    _principal.set(principal)
    _request_id.set(request_id)


def principal() -> Principal:
    """The verified caller; raises UNAUTHENTICATED when the request carried none."""
    value = _principal.get()
    if value is None:
        raise Unauthenticated("no verified principal on this request")
    return value


def request_id() -> str:
    return _request_id.get()
