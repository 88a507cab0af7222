"""Database errors: no personal data in logs (audit item 13), UNAVAILABLE when the
database is not there (item 16), ABORTED on a transaction conflict."""

from __future__ import annotations

import asyncio
import logging
import secrets

import grpc
import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from servicekit import db, event_types, outbox, telemetry
from servicekit.errors import Code
from servicekit.inbox import EventConsumer
from servicekit.uow import Transactions, UnitOfWork
from tests.conftest import hq, metadata_for
from tests.servicekit.support import (
    error_reason,
    eventually,
    free_port,
    health_status,
    rich_status,
)
from tests.servicekit.test_events import _envelope, _record

EMAIL, PHONE = customer_pb2.CONTACT_KIND_EMAIL, customer_pb2.CONTACT_KIND_PHONE
SERVING, NOT_SERVING = 1, 2


def _canaries() -> dict[str, str]:
    tag = secrets.token_hex(4)
    return {
        "name": f"Canaryname{tag}",
        "email": f"canary.{tag}@example.com",
        "phone": f"canaryphone{tag}",
        "birthday": f"canarydate{tag}",
    }


def _everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """What any handler could write: the plain and JSON renderings of every record."""
    plain = logging.Formatter("%(name)s %(levelname)s %(message)s")
    as_json = telemetry.JsonFormatter()
    return "\n".join(plain.format(r) + "\n" + as_json.format(r) for r in caplog.records) + caplog.text


def _assert_no_canary(text: str, canaries: dict[str, str]) -> None:
    leaked = [value for value in canaries.values() if value in text]
    assert leaked == [], f"personal data in the logs: {leaked}"


def _person(canaries: dict[str, str], *, phone: str = "+33612345678", birthday: str = "") -> customer_pb2.Customer:
    person = customer_pb2.Customer(
        given_name=canaries["name"],
        contact_points=[
            customer_pb2.ContactPoint(kind=EMAIL, value=canaries["email"]),
            customer_pb2.ContactPoint(kind=PHONE, value=phone),
        ],
    )
    if birthday:
        person.important_dates.add(label=birthday)
    return person


# -- item 13: no personal data in logs


async def test_failed_writes_log_the_error_without_the_values_it_quotes(kit, kit_stub, caplog):
    caplog.set_level(logging.DEBUG)
    canaries = _canaries()
    md = metadata_for(hq())
    await kit_stub.CreateCustomer(api.CreateCustomerRequest(customer=_person(canaries)), metadata=md, timeout=10)
    failing = [
        _person(canaries),  # unique e-mail: DETAIL Key (email)=(...) already exists
        _person({**canaries, "email": "other-" + canaries["email"]}, phone=canaries["phone"]),  # check: Failing row
        _person({**canaries, "email": "third-" + canaries["email"]}, birthday=canaries["birthday"]),  # bad date
    ]
    for person in failing:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await kit_stub.CreateCustomer(api.CreateCustomerRequest(customer=person), metadata=md, timeout=10)
        assert caught.value.code() == grpc.StatusCode.INTERNAL
        _assert_no_canary(str(rich_status(caught.value)) + str(caught.value.details()), canaries)
    logged = _everything_logged(caplog)
    _assert_no_canary(logged, canaries)
    # What an operator needs is still there: the method, the error class, the constraint.
    assert "unhandled error in /atelier.customer.v1.CustomerService/CreateCustomer" in logged
    assert "UniqueViolation" in logged and "people_email_key" in logged
    assert "CheckViolation" in logged and "people_phone_check" in logged
    assert "InvalidDatetimeFormat" in logged and "message withheld" in logged


async def test_engine_errors_never_render_bound_parameters(kit):
    canaries = _canaries()
    tx = Transactions(kit.runtime.engine)
    insert = sa.text("INSERT INTO people (id, given_name, email, phone) VALUES (:id, :name, :email, '')")
    async with tx.begin(hq()) as uow:
        await uow.conn.execute(insert, {"id": secrets.token_hex(4), "name": "first", "email": canaries["email"]})
    with pytest.raises(sa.exc.IntegrityError) as caught:
        async with tx.begin(hq()) as uow:
            # The name is a bound parameter only: no PostgreSQL message quotes it.
            await uow.conn.execute(insert, {"id": secrets.token_hex(4), "name": canaries["name"], "email": "x"})
            await uow.conn.execute(insert, {"id": secrets.token_hex(4), "name": "n", "email": canaries["email"]})
    assert canaries["name"] not in str(caught.value)
    assert "hide_parameters" in str(caught.value)
    # describe() also leaves out the DETAIL that quotes the e-mail.
    assert canaries["email"] in str(caught.value.orig)
    assert canaries["email"] not in db.describe(caught.value)
    assert canaries["email"] not in db.safe_traceback(caught.value)


async def test_consumers_and_the_relay_log_database_errors_without_their_values(bus_env, caplog):
    caplog.set_level(logging.DEBUG)
    engine, js, bus, url = bus_env
    canaries = _canaries()

    async def write_bad_row(uow: UnitOfWork, envelope) -> None:
        await uow.conn.execute(
            sa.text("INSERT INTO people (id, given_name, email, phone) VALUES (:id, :name, :email, :phone)"),
            {"id": envelope.id, "name": canaries["name"], "email": canaries["email"], "phone": canaries["phone"]},
        )

    consumer = EventConsumer(
        js=js,
        engine=engine,
        bus=bus,
        durable="test-canary",
        event_types=[event_types.CUSTOMER_DELETED],
        handler=write_bad_row,
        backoff=[0.1],
        max_deliver=2,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    await _record(engine, 1)
    await outbox.OutboxRelay(engine, js, bus, database_url=url).drain()
    await eventually(lambda: consumer.terminated == 1)
    stop.set()
    await task

    # The relay's logger, handed a database error the way the relay logs its failures.
    relay_log = logging.getLogger("atelier.outbox")
    try:
        async with engine.begin() as conn:
            await write_bad_row(UnitOfWork(conn, hq()), _envelope(0))
    except sa.exc.IntegrityError as exc:
        relay_log.warning("publish of event %s not acknowledged: %r", "e-1", exc)
        try:
            raise RuntimeError("relay pass failed") from exc
        except RuntimeError:
            relay_log.exception("outbox relay failed; retrying")
    logged = _everything_logged(caplog)
    _assert_no_canary(logged, canaries)
    assert "failed on attempt 1" in logged and "failed 2 times; terminated" in logged
    assert "CheckViolation" in logged and "outbox relay failed" in logged


# -- item 16: database unavailable → UNAVAILABLE


async def test_a_database_that_refuses_connections_is_unavailable():
    engine = db.create_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    try:
        with pytest.raises(sa.exc.OperationalError) as caught:
            async with Transactions(engine).begin(hq()):
                pass
        mapped = db.as_atelier_error(caught.value)
        assert mapped is not None and mapped.code == Code.UNAVAILABLE and mapped.reason == "DATABASE_UNAVAILABLE"
    finally:
        await engine.dispose()


async def test_an_exhausted_pool_is_unavailable(kit):
    engine = db.create_engine(kit.database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        async with engine.connect():
            with pytest.raises(sa.exc.TimeoutError) as caught:
                async with engine.connect():
                    pass
        mapped = db.as_atelier_error(caught.value)
        assert mapped is not None and mapped.code == Code.UNAVAILABLE
    finally:
        await engine.dispose()


async def test_a_transaction_conflict_is_aborted(kit):
    engine = kit.runtime.engine
    async with engine.begin() as conn:
        await conn.execute(sa.text("INSERT INTO people (id, given_name, email, phone) VALUES ('c1', 'a', 'c1@x', '')"))
    first = await engine.connect()
    second = await engine.connect()
    try:
        for conn in (first, second):
            await conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            await conn.execute(sa.text("SELECT given_name FROM people WHERE id = 'c1'"))
        await first.execute(sa.text("UPDATE people SET given_name = 'b' WHERE id = 'c1'"))
        blocked = asyncio.create_task(second.execute(sa.text("UPDATE people SET given_name = 'c' WHERE id = 'c1'")))
        await asyncio.sleep(0.2)
        await first.commit()
        with pytest.raises(sa.exc.OperationalError) as caught:
            await blocked
        mapped = db.as_atelier_error(caught.value)
        assert mapped is not None and mapped.code == Code.ABORTED and mapped.reason == "TRANSACTION_CONFLICT"
    finally:
        await first.close()
        await second.close()


async def _refuse_connections(admin_url: str, database: str, refuse: bool) -> None:
    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as conn:
        await conn.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(database), sql.SQL("false" if refuse else "true")
            )
        )
        if refuse:
            await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))


async def test_rpcs_answer_unavailable_while_the_database_is_down_and_recover(infra, kit, kit_stub):
    md = metadata_for(hq())
    database = kit.database_url.rsplit("/", 1)[1]
    person = customer_pb2.Customer(given_name="Ann", contact_points=[{"kind": EMAIL, "value": "ann@down.example"}])
    await _refuse_connections(infra.admin_url, database, refuse=True)
    try:
        for call in (
            lambda: kit_stub.CreateCustomer(api.CreateCustomerRequest(customer=person), metadata=md, timeout=10),
            lambda: kit_stub.GetCustomer(api.GetCustomerRequest(name="someone"), metadata=md, timeout=10),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call()
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, caught.value.details()
            assert error_reason(caught.value) == "DATABASE_UNAVAILABLE"
        # Readiness follows: the replica leaves the load balancer while its database is gone.
        await eventually(lambda: _status_is(kit.address, "", NOT_SERVING))
    finally:
        await _refuse_connections(infra.admin_url, database, refuse=False)
    await eventually(lambda: _status_is(kit.address, "", SERVING))

    async def created() -> bool:
        try:
            await kit_stub.CreateCustomer(api.CreateCustomerRequest(customer=person), metadata=md, timeout=10)
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAVAILABLE  # a pooled connection found dead, once
            return False
        return True

    await eventually(created)


async def _status_is(address: str, service: str, expected: int) -> bool:
    return await health_status(address, service) == expected
