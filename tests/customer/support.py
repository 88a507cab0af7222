"""Helpers for the customer service's gRPC tests (fixtures are in conftest.py).

The service and its database are shared by the whole session, so every test makes its
own stores, names and contact values unique (uuid-based) and asserts only on those.
"""

from __future__ import annotations

import random
import uuid

import grpc
import phonenumbers
import psycopg
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from atelier.customer.v1 import customer_pb2, customer_service_pb2 as api
from servicekit.auth import Principal
from tests.conftest import hq, metadata_for

TIMEOUT = 10
Kind = customer_pb2.ContactKind


def uid() -> str:
    return uuid.uuid4().hex[:12]


def new_store() -> str:
    return f"stores/t-{uid()}"


def letters(n: int = 10) -> str:
    """A random lower-case word (no digits, so it never looks like a phone fragment)."""
    return "".join(random.choice("bcdfghjklmnpqrstvwxz") for _ in range(n))


def unique_phone(region: str = "FR", prefix: str = "6") -> tuple[str, str]:
    """A valid, random number of `region`: (national spelling with spaces, E.164)."""
    code = phonenumbers.country_code_for_region(region)
    while True:
        national = prefix + "".join(random.choice("0123456789") for _ in range(_NSN_LENGTH[region] - len(prefix)))
        number = phonenumbers.parse(f"+{code}{national}")
        if phonenumbers.is_valid_number(number):
            return (
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
            )


_NSN_LENGTH = {"FR": 9, "GB": 10, "CN": 11, "US": 10}


def unique_email() -> tuple[str, str]:
    """(as typed, normalised)."""
    local = f"Client.{uid()}"
    return f"{local}@Example.COM", f"{local.lower()}@example.com"


def phone(value: str, primary: bool = False) -> customer_pb2.ContactPoint:
    return customer_pb2.ContactPoint(kind=Kind.CONTACT_KIND_PHONE, value=value, primary=primary)


def email(value: str, primary: bool = False) -> customer_pb2.ContactPoint:
    return customer_pb2.ContactPoint(kind=Kind.CONTACT_KIND_EMAIL, value=value, primary=primary)


def md(principal: Principal) -> tuple:
    return metadata_for(principal)


def customer(**fields) -> customer_pb2.Customer:
    fields.setdefault("given_name", "Hélène")
    fields.setdefault("family_name", "Laurent")
    fields.setdefault("locale", "fr-FR")
    return customer_pb2.Customer(**fields)


async def create(stub, principal: Principal | None = None, *, customer_id: str = "", request_id: str = "", **fields):
    request = api.CreateCustomerRequest(customer=customer(**fields), customer_id=customer_id, request_id=request_id)
    return await stub.CreateCustomer(request, metadata=md(principal or hq()), timeout=TIMEOUT)


async def get(stub, name: str, principal: Principal | None = None) -> customer_pb2.Customer:
    return await stub.GetCustomer(api.GetCustomerRequest(name=name), metadata=md(principal or hq()), timeout=TIMEOUT)


async def rpc_error(awaitable) -> grpc.aio.AioRpcError:
    """The error an RPC fails with; fails the test when it succeeds."""
    try:
        result = await awaitable
    except grpc.aio.AioRpcError as exc:
        return exc
    raise AssertionError(f"expected the call to fail, it returned {result!r}")


def rich_status(exc: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The google.rpc.Status the server attached (grpc-status-details-bin)."""
    status = rpc_status.from_call(exc)
    assert status is not None, f"no rich status on {exc.code()}: {exc.details()}"
    assert status.code == exc.code().value[0]
    return status


def _unpack(exc: grpc.aio.AioRpcError, cls):
    found = []
    for detail in rich_status(exc).details:
        if detail.Is(cls.DESCRIPTOR):
            msg = cls()
            detail.Unpack(msg)
            found.append(msg)
    return found


def error_info(exc: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    infos = _unpack(exc, error_details_pb2.ErrorInfo)
    assert len(infos) == 1, f"expected one ErrorInfo, got {infos}"
    return infos[0]


def bad_request(exc: grpc.aio.AioRpcError) -> error_details_pb2.BadRequest:
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, f"{exc.code()}: {exc.details()}"
    requests = _unpack(exc, error_details_pb2.BadRequest)
    assert len(requests) == 1, f"expected one BadRequest, got {requests}"
    return requests[0]


def bad_fields(exc: grpc.aio.AioRpcError) -> list[str]:
    return [v.field for v in bad_request(exc).field_violations]


async def invalid_fields(awaitable) -> list[str]:
    """The fields an INVALID_ARGUMENT names."""
    return bad_fields(await rpc_error(awaitable))


async def denied_reason(awaitable) -> str:
    exc = await rpc_error(awaitable)
    assert exc.code() == grpc.StatusCode.PERMISSION_DENIED, f"{exc.code()}: {exc.details()}"
    info = error_info(exc)
    assert info.domain == "atelier.dev"
    return info.reason


async def scalar(conn: psycopg.AsyncConnection, query: str, *params):
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    return row[0]


_TABLES = ("customers", "contact_points", "consent_changes", "notes", "idempotency_keys")


async def snapshot(conn: psycopg.AsyncConnection) -> dict[str, int]:
    """Rows per table and the newest outbox event, to show later that nothing changed."""
    counts = {table: await scalar(conn, f"SELECT count(*) FROM {table}") for table in _TABLES}
    counts["outbox_seq"] = await scalar(conn, "SELECT coalesce(max(seq), 0) FROM outbox")
    return counts


async def assert_unchanged(conn: psycopg.AsyncConnection, before: dict[str, int]) -> None:
    after = {table: await scalar(conn, f"SELECT count(*) FROM {table}") for table in _TABLES}
    assert after == {t: before[t] for t in _TABLES}
    new_events = await scalar(conn, "SELECT count(*) FROM outbox WHERE seq > %s", before["outbox_seq"])
    assert new_events == 0
