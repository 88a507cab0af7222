"""TaskService over gRPC: create by hand (idempotent), list (mine / store / overdue, paging),
complete / snooze / cancel with validation naming the fields, etags, and who may do what."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import grpc

from atelier.associate.v1 import task_pb2
from atelier.associate.v1 import task_service_pb2 as api
from servicekit.auth import Principal, Role

from ..support import (
    TIMEOUT,
    associate_p,
    denied_reason,
    hq_p,
    invalid_fields,
    known_customer,
    manager_p,
    md,
    rpc_error,
    seed_store,
    ts,
    uid,
)


def _task(customer: str, due: datetime, **fields) -> task_pb2.Task:
    fields.setdefault("title", "Call her about the ring resizing")
    return task_pb2.Task(customer=f"customers/{customer}", due_time=ts(due), **fields)


async def _create(stub, principal, customer: str, due: datetime, request_id: str = "", **fields) -> task_pb2.Task:
    return await stub.CreateTask(
        api.CreateTaskRequest(task=_task(customer, due, **fields), request_id=request_id),
        metadata=md(principal),
        timeout=TIMEOUT,
    )


async def test_associate_creates_her_own_task_idempotently(task_stub, db):
    store, (a1,) = await seed_store(db)
    me = associate_p(store, a1)
    due = datetime.now(UTC) + timedelta(days=1)
    request_id = str(uuid.uuid4())
    first = await _create(task_stub, me, await known_customer(db, store, a1), due, request_id=request_id)
    again = await _create(task_stub, me, first.customer.split("/")[1], due, request_id=request_id)
    assert again.name == first.name
    assert first.associate == f"associates/{a1}" and first.store == f"stores/{store}"
    assert first.kind == task_pb2.TASK_KIND_MANUAL and first.status == task_pb2.TASK_STATUS_OPEN
    assert first.trigger.rule == "manual"
    fetched = await task_stub.GetTask(api.GetTaskRequest(name=first.name), metadata=md(me), timeout=TIMEOUT)
    assert fetched == first


async def test_create_validation_names_every_bad_field(task_stub):
    me = associate_p("s-x", "a-x")
    fields = await invalid_fields(
        task_stub.CreateTask(
            api.CreateTaskRequest(task=task_pb2.Task(customer="c-1", title=" "), request_id="nope"),
            metadata=md(me),
            timeout=TIMEOUT,
        )
    )
    assert fields == ["task.customer", "task.due_time", "task.title", "request_id"]


async def test_list_mine_store_overdue_and_paging(task_stub, db):
    store, (a1, a2) = await seed_store(db, associates=("a", "b"))
    now = datetime.now(UTC)
    mine = associate_p(store, a1)
    overdue = await _create(task_stub, mine, await known_customer(db, store, a1), now - timedelta(hours=2))
    soon = await _create(task_stub, mine, await known_customer(db, store, a1), now + timedelta(hours=2))
    later = await _create(task_stub, mine, await known_customer(db, store, a1), now + timedelta(days=2))
    theirs = await _create(
        task_stub, associate_p(store, a2), await known_customer(db, store, a2), now - timedelta(hours=1)
    )

    listed = await task_stub.ListTasks(api.ListTasksRequest(), metadata=md(mine), timeout=TIMEOUT)
    assert [t.name for t in listed.tasks] == [overdue.name, soon.name, later.name]
    assert [t.overdue for t in listed.tasks] == [True, False, False]

    page1 = await task_stub.ListTasks(api.ListTasksRequest(page_size=2), metadata=md(mine), timeout=TIMEOUT)
    page2 = await task_stub.ListTasks(
        api.ListTasksRequest(page_size=2, page_token=page1.next_page_token), metadata=md(mine), timeout=TIMEOUT
    )
    assert [t.name for t in [*page1.tasks, *page2.tasks]] == [overdue.name, soon.name, later.name]
    assert page2.next_page_token == ""

    late = await task_stub.ListTasks(api.ListTasksRequest(overdue_only=True), metadata=md(mine), timeout=TIMEOUT)
    assert [t.name for t in late.tasks] == [overdue.name]

    boss = manager_p(store)
    store_view = await task_stub.ListTasks(
        api.ListTasksRequest(view=api.TASK_VIEW_STORE, overdue_only=True), metadata=md(boss), timeout=TIMEOUT
    )
    assert [t.name for t in store_view.tasks] == [overdue.name, theirs.name]


async def test_complete_snooze_cancel(task_stub, db):
    store, (a1,) = await seed_store(db)
    me = associate_p(store, a1)
    now = datetime.now(UTC)
    task = await _create(task_stub, me, await known_customer(db, store, a1), now - timedelta(hours=1))

    fields = await invalid_fields(
        task_stub.CompleteTask(
            api.CompleteTaskRequest(name=task.name, outcome_note="  "), metadata=md(me), timeout=TIMEOUT
        )
    )
    assert fields == ["outcome_note"]
    fields = await invalid_fields(
        task_stub.SnoozeTask(
            api.SnoozeTaskRequest(name=task.name, snooze_until=ts(now - timedelta(minutes=1))),
            metadata=md(me),
            timeout=TIMEOUT,
        )
    )
    assert fields == ["snooze_until"]
    fields = await invalid_fields(
        task_stub.SnoozeTask(api.SnoozeTaskRequest(name="tasks/", etag="x"), metadata=md(me), timeout=TIMEOUT)
    )
    assert fields == ["snooze_until", "name", "etag"]

    snoozed = await task_stub.SnoozeTask(
        api.SnoozeTaskRequest(name=task.name, snooze_until=ts(now + timedelta(days=1)), etag=task.etag),
        metadata=md(me),
        timeout=TIMEOUT,
    )
    assert snoozed.status == task_pb2.TASK_STATUS_SNOOZED
    listed = await task_stub.ListTasks(api.ListTasksRequest(overdue_only=True), metadata=md(me), timeout=TIMEOUT)
    assert task.name not in [t.name for t in listed.tasks]  # hidden while snoozed

    stale = await rpc_error(
        task_stub.CompleteTask(
            api.CompleteTaskRequest(name=task.name, outcome_note="done", etag=task.etag),
            metadata=md(me),
            timeout=TIMEOUT,
        )
    )
    assert stale.code() == grpc.StatusCode.ABORTED

    done = await task_stub.CompleteTask(
        api.CompleteTaskRequest(name=task.name, outcome_note="Called; she loved the sketch", etag=snoozed.etag),
        metadata=md(me),
        timeout=TIMEOUT,
    )
    assert done.status == task_pb2.TASK_STATUS_DONE and done.outcome_note == "Called; she loved the sketch"
    assert done.HasField("complete_time") and done.overdue  # done after its due time
    closed = await rpc_error(
        task_stub.CancelTask(api.CancelTaskRequest(name=task.name), metadata=md(me), timeout=TIMEOUT)
    )
    assert closed.code() == grpc.StatusCode.FAILED_PRECONDITION

    other = await _create(task_stub, me, await known_customer(db, store, a1), now + timedelta(hours=1))
    cancelled = await task_stub.CancelTask(
        api.CancelTaskRequest(name=other.name, outcome_note="she moved abroad"), metadata=md(me), timeout=TIMEOUT
    )
    assert cancelled.status == task_pb2.TASK_STATUS_CANCELLED


async def test_authorisation_denials(task_stub, db):
    store, (a1, a2) = await seed_store(db, associates=("a", "b"))
    other_store, _ = await seed_store(db)
    now = datetime.now(UTC)
    task = await _create(
        task_stub, associate_p(store, a1), await known_customer(db, store, a1), now + timedelta(hours=1)
    )
    colleague = associate_p(store, a2)
    stranger = manager_p(other_store)

    assert (
        await denied_reason(
            task_stub.GetTask(api.GetTaskRequest(name=task.name), metadata=md(colleague), timeout=TIMEOUT)
        )
        == "TASK_OUT_OF_SCOPE"
    )
    assert (
        await denied_reason(
            task_stub.CompleteTask(
                api.CompleteTaskRequest(name=task.name, outcome_note="x"), metadata=md(colleague), timeout=TIMEOUT
            )
        )
        == "TASK_OUT_OF_SCOPE"
    )
    assert (
        await denied_reason(
            task_stub.SnoozeTask(
                api.SnoozeTaskRequest(name=task.name, snooze_until=ts(now + timedelta(hours=3))),
                metadata=md(stranger),
                timeout=TIMEOUT,
            )
        )
        == "TASK_OUT_OF_SCOPE"
    )
    # A missing task looks the same as another's to store staff (no probing of ids).
    assert (
        await denied_reason(
            task_stub.GetTask(api.GetTaskRequest(name="tasks/does-not-exist"), metadata=md(colleague), timeout=TIMEOUT)
        )
        == "TASK_OUT_OF_SCOPE"
    )
    missing = await rpc_error(
        task_stub.GetTask(api.GetTaskRequest(name="tasks/does-not-exist"), metadata=md(hq_p()), timeout=TIMEOUT)
    )
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    assert (
        await denied_reason(
            task_stub.ListTasks(api.ListTasksRequest(view=api.TASK_VIEW_STORE), metadata=md(colleague), timeout=TIMEOUT)
        )
        == "ROLE_DENIED"
    )
    assert (
        await denied_reason(
            task_stub.ListTasks(
                api.ListTasksRequest(view=api.TASK_VIEW_STORE, store=f"stores/{store}"),
                metadata=md(stranger),
                timeout=TIMEOUT,
            )
        )
        == "STORE_OUT_OF_SCOPE"
    )
    assert (
        await denied_reason(
            task_stub.CreateTask(
                api.CreateTaskRequest(
                    task=_task(await known_customer(db, store, a2), now, associate=f"associates/{a1}")
                ),
                metadata=md(colleague),
                timeout=TIMEOUT,
            )
        )
        == "ROLE_DENIED"
    )
    # A manager hands tasks to associates of her store only.
    _, (b1,) = await seed_store(db)
    assert (
        await denied_reason(
            task_stub.CreateTask(
                api.CreateTaskRequest(task=_task(await known_customer(db, store), now, associate=f"associates/{b1}")),
                metadata=md(manager_p(store)),
                timeout=TIMEOUT,
            )
        )
        == "STORE_OUT_OF_SCOPE"
    )
    assert await invalid_fields(
        task_stub.CreateTask(
            api.CreateTaskRequest(task=_task(await known_customer(db, store), now, associate="associates/nobody-here")),
            metadata=md(manager_p(store)),
            timeout=TIMEOUT,
        )
    ) == ["task.associate"]
    handed = await task_stub.CreateTask(
        api.CreateTaskRequest(task=_task(await known_customer(db, store), now, associate=f"associates/{a2}")),
        metadata=md(manager_p(store)),
        timeout=TIMEOUT,
    )
    assert (handed.associate, handed.store) == (f"associates/{a2}", f"stores/{store}")
    # Her manager and headquarters may act on it.
    snoozed = await task_stub.SnoozeTask(
        api.SnoozeTaskRequest(name=task.name, snooze_until=ts(now + timedelta(hours=3))),
        metadata=md(manager_p(store)),
        timeout=TIMEOUT,
    )
    assert snoozed.status == task_pb2.TASK_STATUS_SNOOZED
    got = await task_stub.GetTask(api.GetTaskRequest(name=task.name), metadata=md(hq_p()), timeout=TIMEOUT)
    assert got.name == task.name


async def test_a_task_needs_a_customer_the_caller_reaches(task_stub, db):
    """Audit item 4: an associate puts tasks on the customers she holds, a manager on her
    store's, headquarters on anyone; a customer that does not exist answers store staff
    like one out of reach, headquarters NOT_FOUND."""
    store, (a1, a2) = await seed_store(db, associates=("a", "b"))
    other_store, (b1,) = await seed_store(db)
    hers = await known_customer(db, store, a1)
    now = datetime.now(UTC) + timedelta(days=1)
    for who in (associate_p(store, a2), manager_p(other_store), associate_p(other_store, b1)):
        assert await denied_reason(_create(task_stub, who, hers, now)) == "CUSTOMER_OUT_OF_SCOPE"
        assert await denied_reason(_create(task_stub, who, f"nobody-{uid()}", now)) == "CUSTOMER_OUT_OF_SCOPE"
    listed = await task_stub.ListTasks(api.ListTasksRequest(), metadata=md(associate_p(store, a1)), timeout=TIMEOUT)
    assert listed.tasks == []  # nothing landed in the holder's list
    missing = await rpc_error(_create(task_stub, hq_p(), f"nobody-{uid()}", now))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    for who in (associate_p(store, a1), manager_p(store), hq_p()):
        made = await _create(task_stub, who, hers, now)
        assert made.customer == f"customers/{hers}"
    # A manager reaches a customer of her store nobody holds (her queue).
    queued = await _create(task_stub, manager_p(store), await known_customer(db, store), now)
    assert queued.store == f"stores/{store}"


async def test_my_tasks_without_an_associate_id_name_the_view(task_stub):
    """Audit item 14: TASK_VIEW_MINE from headquarters or a manager's token without an
    associate id is INVALID_ARGUMENT naming `view`, not a server error."""
    no_id = Principal("staff/m", Role.MANAGER, store="stores/s-x")
    for who in (hq_p(), no_id):
        fields = await invalid_fields(
            task_stub.ListTasks(api.ListTasksRequest(view=api.TASK_VIEW_MINE), metadata=md(who), timeout=TIMEOUT)
        )
        assert fields == ["view"]
