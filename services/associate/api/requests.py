"""Reading requests into plain values: resource names, client-chosen ids, request ids,
page sizes and tokens, reasons, times. A reader given the request's Violations reports a
bad field there (so the caller learns every bad field at once); the others raise
INVALID_ARGUMENT at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf import timestamp_pb2

from servicekit import context, idempotency, names, paging
from servicekit.errors import Violations, invalid
from servicekit.paging import Page

from ..domain.assignment import MAX_REASON
from ..usecases.audit_trail import ReadAudit

# Why the caller reads personal data (recorded in the audit trail), as the customer service reads it.
PURPOSE_METADATA_KEY = "x-atelier-purpose"
MAX_PURPOSE = 200


def resource_id(violations: Violations, name: str, collection: str, field: str) -> str:
    """The id in `<collection>/<id>` ('' when it is not one)."""
    return violations.take(names.parse, name, collection, field) or ""


def optional_id(violations: Violations, name: str, collection: str, field: str) -> str:
    """Like resource_id, for a field that may be left empty ('')."""
    return resource_id(violations, name, collection, field) if name else ""


def chosen_id(violations: Violations, value: str, field: str) -> str:
    """An id the client chose for a new resource ('' to let the service choose)."""
    if value and not names.ID_PATTERN.match(value):
        violations.add(field, "3-63 characters of a-z, 0-9 and -")
    return value


def request_id(violations: Violations, value: str) -> None:
    violations.take(idempotency.check_request_id, value)


def page(
    size: int, token: str, query: str, shape: tuple[type, ...], *, default: int = paging.DEFAULT_PAGE_SIZE
) -> Page:
    """The page a list asks for (`shape`: the types of its token's keyset position); a bad
    size or token is INVALID_ARGUMENT at once."""
    return Page(paging.page_size(size, default=default), paging.decode(token, query, shape=shape), query)


def page_size(violations: Violations, size: int) -> int:
    """A page size, a bad one reported in `violations`."""
    return violations.take(paging.page_size, size) or 0


def collected_page(violations: Violations, size: int, token: str, query: str, shape: tuple[type, ...]) -> Page:
    """Like `page` for a size already read (page_size), with a bad token reported in
    `violations`."""
    return Page(size, violations.take(paging.decode, token, query, shape=shape), query)


def reason(violations: Violations, value: str, field: str) -> str:
    """A required free-text reason, trimmed."""
    text = value.strip()
    violations.require(0 < len(text) <= MAX_REASON, field, f"required, at most {MAX_REASON} characters")
    return text


def customer_of_assignment(name: str, field: str = "name") -> str:
    """The customer id in `customers/{customer}/assignment`."""
    if not name.endswith("/assignment"):
        raise invalid(field, "must look like customers/<id>/assignment")
    return names.parse(name[: -len("/assignment")], "customers", field)


def time(ts: timestamp_pb2.Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def read_audit(ctx: grpc.aio.ServicerContext[Any, Any], action: str) -> ReadAudit:
    """Who reads and why: the caller's `x-atelier-purpose` metadata, else the RPC's name."""
    purpose = action
    for key, value in ctx.invocation_metadata() or ():
        if key == PURPOSE_METADATA_KEY and isinstance(value, str) and value.strip():
            purpose = " ".join(value.split())[:MAX_PURPOSE]
            break
    return ReadAudit(action=action, purpose=purpose, request_id=context.request_id())
