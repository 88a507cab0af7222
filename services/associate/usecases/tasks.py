"""Tasks over the API: lists, a task, tasks made by hand, and completing, snoozing or
cancelling one. Each change publishes task_updated; closing a greeting plans next
year's (usecases.greetings)."""

from __future__ import annotations

from datetime import UTC, datetime

from atelier.associate.v1 import task_pb2
from atelier.associate.v1 import task_service_pb2 as api
from servicekit import names
from servicekit.auth import Principal
from servicekit.paging import Page
from servicekit.uow import Idempotent, Transactions, UnitOfWork, check_etag

from ..domain import access
from ..domain import tasks as planning
from ..domain.tasks import PlannedTask, TaskFilter, TaskRuleConfig, TaskStatus
from ..messages import events
from ..messages import tasks as messages
from ..storage import associates, tasks
from . import customer_facts, greetings, task_routes
from .writes import create_once


def _now() -> datetime:
    return datetime.now(UTC)


async def list_tasks(
    tx: Transactions, caller: Principal, view: str, store: str, flt: TaskFilter, page: Page
) -> api.ListTasksResponse:
    """The tasks the caller may see (`view`: mine, store, all or '' for her role's), soonest due first."""
    scope = access.list_scope(caller, view, store)
    now = _now()
    async with tx.read() as conn:
        rows = await tasks.list_page(conn, scope, flt, now, page.position, page.limit)
    return api.ListTasksResponse(
        tasks=[messages.task(r, now) for r in page.items(rows)],
        next_page_token=page.next_token(rows, lambda r: [r.due_time.isoformat(), r.id]),
    )


async def get_task(tx: Transactions, caller: Principal, task_id: str, name: str) -> task_pb2.Task:
    async with tx.read() as conn:
        row = await tasks.get(conn, task_id)
    if row is None:
        raise access.missing(caller, name)
    access.check_task(caller, row.associate_id, row.store_id, name)
    return messages.task(row)


async def create_task(
    tx: Transactions,
    caller: Principal,
    request: api.CreateTaskRequest,
    *,
    customer_id: str,
    associate_id: str,
    store_id: str,
    due_time: datetime,
    title: str,
    channel: int,
    kind: int,
) -> task_pb2.Task:
    """A task made by hand, on a customer the caller may task (domain.access.check_task_on_customer:
    an associate the customers she holds, a manager those wholly of her store, headquarters anyone): for the associate named (or the
    caller herself), in her store. A customer the service never heard of answers store
    staff like one out of reach, headquarters NOT_FOUND."""

    async def insert(uow: UnitOfWork) -> task_pb2.Task:
        conn = uow.conn
        _, facts = await customer_facts.load(conn, customer_id)
        access.check_task_on_customer(caller, facts)
        default = await task_routes.route(conn, customer_id, fallback_store=caller.store)
        assignee = planning.manual_assignee(caller, associate_id)
        home = await associates.store_of(conn, assignee) if assignee else None
        route = planning.manual_route(caller, assignee, store_id, home, default)
        access.check_create_task(caller, route.associate_id, route.store_id)
        task_id = names.new_id()
        # Hand-made tasks have no triggering fact: each is its own trigger.
        planned = PlannedTask(planning.MANUAL, task_id, due_time, title, channel)
        row = await tasks.insert(conn, task_id, customer_id, planned, route, kind=kind or planning.TaskKind.MANUAL)
        if row is None:  # a fresh id is its own trigger: there is never one already
            raise RuntimeError(f"task {task_id} was not created")
        return messages.task(row)

    idempotent = Idempotent("CreateTask", request, task_pb2.Task)
    return await create_once(tx, caller, idempotent, insert, events.task_created)


async def change_status(
    tx: Transactions,
    caller: Principal,
    task_id: str,
    name: str,
    expected: int | None,
    status: TaskStatus,
    config: TaskRuleConfig,
    *,
    note: str = "",
    snooze_until: datetime | None = None,
) -> task_pb2.Task:
    """CompleteTask, SnoozeTask, CancelTask: only an open or snoozed task changes."""
    async with tx.begin(caller) as uow:
        row = await tasks.get(uow.conn, task_id, lock=True)
        if row is None:
            raise access.missing(caller, name)
        access.check_task(caller, row.associate_id, row.store_id, name)
        check_etag(expected, row.version)
        planning.check_actionable(row.status, name)
        now = _now()
        updated = await tasks.set_status(
            uow.conn,
            task_id,
            status=status,
            note=note,
            snooze_until=snooze_until,
            complete_time=now if status is TaskStatus.DONE else None,
        )
        message = messages.task(updated)
        uow.emit(events.task_changed(message, caller.subject, created=False))
        if status in planning.CLOSING:
            await greetings.roll(uow, updated, now, config)
    return message
