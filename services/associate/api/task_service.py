"""TaskService over gRPC: follow-up tasks. Each RPC reads its request into plain values
and calls one use case."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import grpc

from atelier.associate.v1 import task_pb2, task_service_pb2_grpc
from atelier.associate.v1 import task_service_pb2 as api
from servicekit import names
from servicekit.context import principal
from servicekit.errors import Violations
from servicekit.uow import Transactions, parse_etag

from ..domain import tasks as planning
from ..domain.tasks import TaskFilter, TaskRuleConfig, TaskStatus
from ..usecases import tasks
from . import requests

SERVICE_NAME = api.DESCRIPTOR.services_by_name["TaskService"].full_name
Context = grpc.aio.ServicerContext[Any, Any]

VIEWS = {
    api.TASK_VIEW_UNSPECIFIED: "",
    api.TASK_VIEW_MINE: "mine",
    api.TASK_VIEW_STORE: "store",
    api.TASK_VIEW_ALL: "all",
}


class TaskServicer(task_service_pb2_grpc.TaskServiceServicer):
    def __init__(self, tx: Transactions, config: TaskRuleConfig):
        self._tx = tx
        # The task rules' settings, to plan a greeting's next occurrence when one is closed.
        self._config = config

    async def ListTasks(self, request: api.ListTasksRequest, context: Context) -> api.ListTasksResponse:
        caller = principal()
        violations = Violations()
        size = requests.page_size(violations, request.page_size)
        violations.require(request.view in VIEWS, "view", "unknown view")
        for i, status in enumerate(request.statuses):
            violations.require(int(status) in list(TaskStatus), f"statuses[{i}]", "unknown status")
        if request.overdue_only and request.statuses:
            violations.add("statuses", "overdue tasks are open ones; leave statuses empty with overdue_only")
        customer_id = requests.optional_id(violations, request.customer, "customers", "customer")
        requests.optional_id(violations, request.store, "stores", "store")
        query = f"{request.view}|{request.store}|{request.overdue_only}|{sorted(request.statuses)}|{request.customer}"
        page = requests.collected_page(violations, size, request.page_token, query, (datetime, str))
        violations.raise_if_any()
        flt = TaskFilter(tuple(request.statuses), request.overdue_only, customer_id)
        return await tasks.list_tasks(self._tx, caller, VIEWS[request.view], request.store, flt, page)

    async def GetTask(self, request: api.GetTaskRequest, context: Context) -> task_pb2.Task:
        caller = principal()
        task_id = names.parse(request.name, "tasks", "name")
        return await tasks.get_task(self._tx, caller, task_id, request.name)

    async def CreateTask(self, request: api.CreateTaskRequest, context: Context) -> task_pb2.Task:
        caller = principal()
        violations = Violations()
        task = request.task
        violations.require(request.HasField("task"), "task", "required")
        customer_id = requests.resource_id(violations, task.customer, "customers", "task.customer")
        associate_id = requests.optional_id(violations, task.associate, "associates", "task.associate")
        store_id = requests.optional_id(violations, task.store, "stores", "task.store")
        violations.require(task.HasField("due_time"), "task.due_time", "required")
        violations.require(task.kind in task_pb2.TaskKind.values(), "task.kind", "unknown kind")
        violations.require(
            len(task.title) <= planning.MAX_TITLE, "task.title", f"at most {planning.MAX_TITLE} characters"
        )
        violations.require(bool(task.title.strip()), "task.title", "required: what should be done")
        requests.request_id(violations, request.request_id)
        violations.raise_if_any()
        return await tasks.create_task(
            self._tx,
            caller,
            request,
            customer_id=customer_id,
            associate_id=associate_id,
            store_id=store_id,
            due_time=requests.time(task.due_time),
            title=task.title.strip(),
            channel=task.suggested_channel,
            kind=task.kind,
        )

    async def CompleteTask(self, request: api.CompleteTaskRequest, context: Context) -> task_pb2.Task:
        violations = Violations()
        note = request.outcome_note.strip()
        if not note:
            violations.add("outcome_note", "required: what happened")
        else:
            _note_length(violations, request.outcome_note)
        return await self._change(request.name, request.etag, violations, TaskStatus.DONE, note=note)

    async def SnoozeTask(self, request: api.SnoozeTaskRequest, context: Context) -> task_pb2.Task:
        violations = Violations()
        until = None
        if not request.HasField("snooze_until"):
            violations.add("snooze_until", "required")
        else:
            until = requests.time(request.snooze_until)
            problem = planning.snooze_problem(until, datetime.now(UTC))
            if problem:
                violations.add("snooze_until", problem)
        return await self._change(request.name, request.etag, violations, TaskStatus.SNOOZED, snooze_until=until)

    async def CancelTask(self, request: api.CancelTaskRequest, context: Context) -> task_pb2.Task:
        violations = Violations()
        _note_length(violations, request.outcome_note)
        return await self._change(
            request.name, request.etag, violations, TaskStatus.CANCELLED, note=request.outcome_note.strip()
        )

    async def _change(
        self,
        name: str,
        etag: str,
        violations: Violations,
        status: TaskStatus,
        *,
        note: str = "",
        snooze_until: datetime | None = None,
    ) -> task_pb2.Task:
        caller = principal()
        task_id = requests.resource_id(violations, name, "tasks", "name")
        expected = parse_etag(etag, "etag", violations)
        violations.raise_if_any()
        return await tasks.change_status(
            self._tx, caller, task_id, name, expected, status, self._config, note=note, snooze_until=snooze_until
        )


def _note_length(violations: Violations, note: str) -> None:
    violations.require(len(note) <= planning.MAX_NOTE, "outcome_note", f"at most {planning.MAX_NOTE} characters")
