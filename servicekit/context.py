"""Per-request context: the verified caller and the request id, for the current task."""

from __future__ import annotations

from contextvars import ContextVar

from servicekit.auth import Principal
from servicekit.errors import Unauthenticated

_principal: ContextVar[Principal | None] = ContextVar("atelier_principal", default=None)
_principal_token: ContextVar[str] = ContextVar("atelier_principal_token", default="")
_request_id: ContextVar[str] = ContextVar("atelier_request_id", default="")


def set_caller(principal: Principal | None, token: str, request_id: str) -> None:
    _principal.set(principal)
    _principal_token.set(token)
    _request_id.set(request_id)


def principal() -> Principal:
    """The verified caller; raises UNAUTHENTICATED when the request carried none."""
    value = _principal.get()
    if value is None:
        raise Unauthenticated("no verified principal on this request")
    return value


def principal_token() -> str:
    """The signed principal token of this request, forwarded on internal calls."""
    return _principal_token.get()


def request_id() -> str:
    return _request_id.get()
