"""The directory sync against the real stack: stores and staff made in an associate
service on one event bus, a customer service on another bus that never saw their events
(an installation upgrading, a database restored from a backup, a consumer created after
the stream's window). Until the job runs, creates in those stores are refused and a
departed associate is let through; once it has run, the first succeed and she is refused.
The job never lets an older answer overwrite a newer event, and a departure stays final."""

from __future__ import annotations

import asyncio
import functools
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import psycopg
import pytest
from google.protobuf import field_mask_pb2

from atelier.associate.v1 import associate_pb2, associate_service_pb2_grpc, store_pb2
from atelier.associate.v1 import associate_service_pb2 as aapi
from atelier.customer.v1 import customer_service_pb2_grpc
from atelier.events.v1 import associate_events_pb2 as ev
from servicekit import event_types
from servicekit.uow import Transactions
from services.customer.domain.directory import StaffRecord, referral_key
from services.customer.jobs import directory_sync
from services.customer.jobs.directory_sync import DirectorySync
from services.customer.storage import directory as directory_storage
from services.customer.usecases.associate_export import AssociateExports
from tests.conftest import INTERNAL_SECRET, associate, hq, metadata_for, start_service
from tests.customer.support import TIMEOUT, bad_request, create, directory_event, error_info, eventually

# The caller gate caches a standing for at most two seconds.
WITHIN_SECONDS = 5.0


def uid() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="module")
async def associates(infra):
    """An associate service on an event bus of its own (bus A)."""
    from services.associate.app import build

    running = await start_service(build, infra.service_config("syncassociate", **infra.private_bus("synca")))
    channel = running.channel()
    stub = associate_service_pb2_grpc.AssociateServiceStub(channel)
    yield running.address, stub
    await channel.close()
    await running.runtime.stop()


@pytest.fixture(scope="module")
async def unaware(infra):
    """A customer service on another bus (B), not told where the associate service is: it
    never hears of the stores and staff of bus A unless a test runs the job."""
    from services.customer.app import build

    running = await start_service(
        functools.partial(build, associate_address=""),
        infra.service_config("syncunaware", **infra.private_bus("syncb")),
    )
    channel = running.channel()
    yield running, customer_service_pb2_grpc.CustomerServiceStub(channel)
    await channel.close()
    await running.runtime.stop()


async def new_store(stub) -> str:
    made = await stub.CreateStore(
        aapi.CreateStoreRequest(
            store=store_pb2.Store(code=f"S-{uid()}", display_name="Ginza", time_zone="Asia/Tokyo"),
            store_id=f"s-{uid()}",
        ),
        metadata=metadata_for(hq()),
        timeout=TIMEOUT,
    )
    return made.name


async def new_staff(stub, store: str, role: int = associate_pb2.STAFF_ROLE_ASSOCIATE) -> associate_pb2.Associate:
    return await stub.CreateAssociate(
        aapi.CreateAssociateRequest(
            associate=associate_pb2.Associate(store=store, display_name="Aiko", role=role, capacity=0),
            associate_id=f"a-{uid()}",
        ),
        metadata=metadata_for(hq()),
        timeout=TIMEOUT,
    )


async def depart(stub, member: associate_pb2.Associate) -> None:
    await stub.DepartAssociate(
        aapi.DepartAssociateRequest(name=member.name), metadata=metadata_for(hq()), timeout=TIMEOUT
    )


async def put_on_leave(stub, member: associate_pb2.Associate) -> None:
    await stub.UpdateAssociate(
        aapi.UpdateAssociateRequest(
            associate=associate_pb2.Associate(
                name=member.name, status=associate_pb2.ASSOCIATE_STATUS_ON_LEAVE, etag=member.etag
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["status"]),
        ),
        metadata=metadata_for(hq()),
        timeout=TIMEOUT,
    )


def principal_of(member: associate_pb2.Associate):
    return associate(member.store, member.name.split("/", 1)[1])


def job_for(service, address: str) -> DirectorySync:
    return DirectorySync(Transactions(service.runtime.engine), AssociateExports(address), INTERNAL_SECRET)


async def outcome(awaitable) -> str:
    """ "" when the call succeeds, else its code and (for PERMISSION_DENIED) its reason."""
    try:
        await awaitable
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.PERMISSION_DENIED:
            return error_info(exc).reason
        return exc.code().name
    return ""


async def staff_row(service, associate_id: str) -> tuple | None:
    async with await psycopg.AsyncConnection.connect(service.runtime.config.database_url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT store, role, status, referral_code FROM directory_associates WHERE associate_id = %s",
            (associate_id,),
        )
        return await cur.fetchone()


async def test_a_service_that_never_saw_the_events_learns_stores_and_staff_from_the_job(
    associates, unaware, monkeypatch
):
    address, stub = associates
    service, customers = unaware
    store = await new_store(stub)
    aiko, leaving, resting = [await new_staff(stub, store) for _ in range(3)]
    await depart(stub, leaving)
    await put_on_leave(stub, resting)

    # Never told: the store and the referral code are unknown, the departed associate
    # is let through (the gate does not know her) and refused only by the store check.
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await create(customers, hq(), home_store=store, referral_code=aiko.referral_code)
    assert {v.field for v in bad_request(unknown.value).field_violations} == {
        "customer.home_store",
        "customer.referral_code",
    }
    assert await outcome(create(customers, principal_of(leaving))) == "INVALID_ARGUMENT"

    # Several pages of each list.
    monkeypatch.setattr(directory_sync, "PAGE_SIZE", 2)
    job = job_for(service, address)
    try:
        synced = await job.run()
        assert synced.stores_read >= 1 and synced.stores_written >= 1
        assert synced.staff_read >= 3 and synced.staff_written >= 3

        made = await create(customers, hq(), home_store=store, referral_code=aiko.referral_code)
        assert made.home_store == store
        assert (await create(customers, principal_of(aiko))).home_store == store

        async def gate_knows() -> bool:
            return await outcome(create(customers, principal_of(leaving))) == "CALLER_INACTIVE"

        await eventually(gate_knows, f"{leaving.name} refused once the job ran", WITHIN_SECONDS)
        assert await outcome(create(customers, principal_of(resting))) == "CALLER_INACTIVE"
        leaving_id = leaving.name.split("/", 1)[1]
        assert await staff_row(service, leaving_id) == (
            store,
            "associate",
            "departed",
            referral_key(leaving.referral_code),
        )

        # A second round finds the directory as the associate service has it.
        again = await job.run()
        assert (again.stores_written, again.staff_written) == (0, 0)
        assert (again.stores_read, again.staff_read) == (synced.stores_read, synced.staff_read)
    finally:
        await job.close()


async def test_an_older_answer_never_overwrites_a_newer_event_and_a_departure_stays_final(associates, unaware):
    address, stub = associates
    service, _ = unaware
    paris, lyon = await new_store(stub), await new_store(stub)
    moved, departed_here, departed_there = [await new_staff(stub, paris) for _ in range(3)]
    await depart(stub, departed_there)
    ids = {m.name: m.name.split("/", 1)[1] for m in (moved, departed_here, departed_there)}
    later = datetime.now(UTC) + timedelta(hours=1)

    # Events the associate service never sent but this service holds as newer than its
    # answers: she moved to Lyon as a manager; another one departed; a third is active.
    changed = ev.AssociateChanged(associate=moved.name, store=lyon, role="manager", status="active")
    await directory_event(service, event_types.ASSOCIATE_UPDATED, changed, moved.name, later)
    departure = ev.AssociateDeparted(associate=departed_here.name, store=paris)
    await directory_event(
        service, event_types.ASSOCIATE_DEPARTED, departure, departed_here.name, datetime.now(UTC) - timedelta(days=30)
    )
    active = ev.AssociateChanged(associate=departed_there.name, store=paris, role="associate", status="active")
    await directory_event(service, event_types.ASSOCIATE_UPDATED, active, departed_there.name, later)

    job = job_for(service, address)
    try:
        await job.run()
    finally:
        await job.close()

    # The newer event stands; her answer (Paris, associate) is older.
    assert await staff_row(service, ids[moved.name]) == (lyon, "manager", "active", "")
    # Her departure is final, though the associate service says she is active.
    assert (await staff_row(service, ids[departed_here.name]))[2] == "departed"
    # The associate service says she departed: final, though an event said active later.
    assert (await staff_row(service, ids[departed_there.name]))[2] == "departed"


async def test_the_service_wired_to_the_associate_service_runs_the_job_at_start(infra, associates):
    """ATELIER_ASSOCIATE_ADDRESS set (here the build's argument): the first round runs as
    the service starts, no event needed."""
    from services.customer.app import build

    address, stub = associates
    store = await new_store(stub)
    leaving = await new_staff(stub, store)
    await depart(stub, leaving)

    running = await start_service(
        functools.partial(build, associate_address=address),
        infra.service_config("syncwired", **infra.private_bus("syncc")),
    )
    channel = running.channel()
    customers = customer_service_pb2_grpc.CustomerServiceStub(channel)
    try:

        async def store_known() -> bool:
            return await outcome(create(customers, hq(), home_store=store)) == ""

        await eventually(store_known, f"a create in {store} after the first round", 20.0)

        async def refused() -> bool:
            return await outcome(create(customers, principal_of(leaving))) == "CALLER_INACTIVE"

        await eventually(refused, f"{leaving.name} refused after the first round", WITHIN_SECONDS)
    finally:
        await channel.close()
        await running.runtime.stop()


async def test_an_associate_service_that_does_not_answer_changes_nothing(unaware, caplog):
    service, _ = unaware
    job = job_for(service, "127.0.0.1:1")
    try:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await job.run()
        assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
        # The periodic round logs it and waits for the next.
        await job.round()
        assert "the associate service did not answer (UNAVAILABLE)" in caplog.text
        # The first round retries until shutdown stops it.
        job.start()
        await asyncio.sleep(0.2)
    finally:
        await asyncio.wait_for(job.close(), 5.0)


async def test_a_row_an_event_changed_since_it_was_read_is_left_as_the_event_made_it(unaware):
    """The write of a page is a compare-and-set: a record inserted or changed between the
    job's read and its write is not overwritten."""
    service, _ = unaware
    store = f"stores/s-{uid()}"
    event_time = datetime.now(UTC)
    answered = StaffRecord(f"a-{uid()}", store, "associate", "active", "", event_time - timedelta(minutes=1))
    changed = ev.AssociateChanged(associate=f"associates/{answered.associate_id}", store=store, status="departed")
    await directory_event(service, event_types.ASSOCIATE_UPDATED, changed, changed.associate, event_time)
    async with service.runtime.engine.begin() as conn:
        # Read as absent (None), written after the event inserted her: nothing written.
        assert await directory_storage.put_staff_unless_changed(conn, [(None, answered)]) == 0
        held = await directory_storage.staff(conn, answered.associate_id)
        assert held is not None and held.status == "departed"
        # Read as she is now: written.
        assert await directory_storage.put_staff_unless_changed(conn, [(held, answered)]) == 1
        await conn.rollback()
    async with service.runtime.engine.begin() as conn:
        assert await directory_storage.put_stores_unless_changed(conn, {store: (None, event_time)}) == 1
        assert await directory_storage.put_stores_unless_changed(conn, {store: (None, event_time)}) == 0
        assert await directory_storage.put_stores_unless_changed(conn, {store: (event_time, answered.change_time)}) == 1
        await conn.rollback()
