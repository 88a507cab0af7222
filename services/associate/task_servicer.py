"""TaskService over gRPC: a thin adapter between the API, the access rules and the task
storage. One transaction per RPC; every change records its event in that transaction."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy.ext.asyncio import AsyncEngine

from atelier.associate.v1 import task_pb2, task_service_pb2 as api, task_service_pb2_grpc
from servicekit import context, idempotency, names, outbox, paging, wire
from servicekit.auth import Role
from servicekit.errors import Aborted, FailedPrecondition, Violations, invalid

from . import task_events
from .domain import task_access, task_rules
from .domain.task_access import bare
from .storage import performance, task_mapping, tasks

MAX_NOTE = 4000
MAX_TITLE = 300
MAX_SNOOZE = timedelta(days=90)
_VIEWS = {
    api.TASK_VIEW_UNSPECIFIED: "",
    api.TASK_VIEW_MINE: "mine",
    api.TASK_VIEW_STORE: "store",
    api.TASK_VIEW_ALL: "all",
}
_ACTIONABLE = (tasks.OPEN, tasks.SNOOZED)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _parse(violations: Violations, name: str, collection: str, field: str) -> str:
    try:
        return names.parse(name, collection, field)
    except Exception as exc:
        violations.items.extend(exc.violations)
        return ""


class TaskServicer(task_service_pb2_grpc.TaskServiceServicer):
    def __init__(self, engine: AsyncEngine, rules=None):
        self._engine = engine
        # The rule set, to plan a birthday's next greeting when this year's is done.
        self._rules = rules

    async def ListTasks(self, request, context_):
        caller = context.principal()
        violations = Violations()
        try:
            size = paging.page_size(request.page_size)
        except Exception as exc:
            violations.items.extend(exc.violations)
            size = 0
        if request.view not in _VIEWS:
            violations.add("view", "unknown view")
        for i, status in enumerate(request.statuses):
            if status not in (tasks.OPEN, tasks.DONE, tasks.SNOOZED, tasks.CANCELLED):
                violations.add(f"statuses[{i}]", "unknown status")
        if request.overdue_only and request.statuses:
            violations.add("statuses", "overdue tasks are open ones; leave statuses empty with overdue_only")
        customer_id = _parse(violations, request.customer, "customers", "customer") if request.customer else ""
        if request.store:
            _parse(violations, request.store, "stores", "store")
        query = (
            f"{request.view}|{request.store}|{request.overdue_only}|{sorted(request.statuses)}|{request.customer}"
        )
        after = None
        try:
            after = paging.decode(request.page_token, query, shape=(datetime, str))
        except Exception as exc:
            violations.items.extend(exc.violations)
        violations.raise_if_any()
        scope = task_access.list_scope(caller, _VIEWS[request.view], request.store)
        now = _now()
        async with self._engine.connect() as conn:
            rows = await tasks.list_page(
                conn, scope=scope, statuses=list(request.statuses), overdue_only=request.overdue_only,
                customer_id=customer_id, now=now, after=after, limit=size + 1,
            )
        response = api.ListTasksResponse(tasks=[task_mapping.task(r, now) for r in rows[:size]])
        response.next_page_token = paging.next_token(
            rows, size, query, lambda last: [last.due_time.isoformat(), last.id]
        )
        return response

    async def GetTask(self, request, context_):
        caller = context.principal()
        tid = names.parse(request.name, "tasks", "name")
        async with self._engine.connect() as conn:
            row = await tasks.get(conn, tid)
        if row is None:
            raise task_access.missing(caller, request.name)
        task_access.check_task(caller, row.associate_id, row.store_id, request.name)
        return task_mapping.task(row)

    async def CreateTask(self, request, context_):
        caller = context.principal()
        violations = Violations()
        task = request.task
        if not request.HasField("task"):
            violations.add("task", "required")
        cid = _parse(violations, task.customer, "customers", "task.customer")
        associate_id = _parse(violations, task.associate, "associates", "task.associate") if task.associate else ""
        store_id = _parse(violations, task.store, "stores", "task.store") if task.store else ""
        if not task.HasField("due_time"):
            violations.add("task.due_time", "required")
        if task.kind not in task_pb2.TaskKind.values():
            violations.add("task.kind", "unknown kind")
        if len(task.title) > MAX_TITLE:
            violations.add("task.title", f"at most {MAX_TITLE} characters")
        if not task.title.strip():
            violations.add("task.title", "required: what should be done")
        try:
            idempotency.check_request_id(request.request_id)
        except Exception as exc:
            violations.items.extend(exc.violations)
        violations.raise_if_any()

        async with self._engine.begin() as conn:
            if request.request_id:
                first = await idempotency.claim(conn, "CreateTask", request.request_id, request, caller.subject)
                if first is not None:
                    return task_pb2.Task.FromString(first)
            route = await tasks.route(conn, cid, fallback_store=caller.store)
            if not associate_id and caller.role is Role.ASSOCIATE:
                associate_id = caller.associate_id
            if associate_id:
                # The task lives in the store of the associate who has to do it.
                home = await performance.associate_store(conn, associate_id)
                if home is None and caller.role is not Role.ASSOCIATE:
                    raise invalid("task.associate", "no such associate")
                if home and store_id and store_id != home:
                    raise invalid("task.store", f"the associate works in stores/{home}")
                store_id = store_id or home or ""
            route = tasks.Route(
                associate_id or route.associate_id, store_id or bare(caller.store, "stores") or route.store_id,
                route.time_zone,
            )
            task_access.check_create(caller, route.associate_id, route.store_id)
            task_id = names.new_id()
            planned = task_rules.PlannedTask(
                rule=task_rules.MANUAL,
                # Hand-made tasks have no triggering fact: each is its own trigger.
                trigger_key=task_id,
                due_time=task.due_time.ToDatetime(tzinfo=timezone.utc),
                title=task.title.strip(),
                channel=task.suggested_channel,
            )
            row = await tasks.insert(
                conn, task_id=task_id, customer_id=cid, planned=planned, route=route,
                kind=task.kind or task_pb2.TASK_KIND_MANUAL,
            )
            created = task_mapping.task(row)
            await outbox.record(conn, task_events.task_changed(created, caller.subject, created=True))
            if request.request_id:
                await idempotency.remember(conn, "CreateTask", request.request_id, created)
        return created

    async def CompleteTask(self, request, context_):
        violations = Violations()
        if not request.outcome_note.strip():
            violations.add("outcome_note", "required: what happened")
        elif len(request.outcome_note) > MAX_NOTE:
            violations.add("outcome_note", f"at most {MAX_NOTE} characters")
        return await self._transition(
            request, violations, status=tasks.DONE, note=request.outcome_note.strip(), complete=True
        )

    async def SnoozeTask(self, request, context_):
        violations = Violations()
        until = None
        if not request.HasField("snooze_until"):
            violations.add("snooze_until", "required")
        else:
            until = request.snooze_until.ToDatetime(tzinfo=timezone.utc)
            now = _now()
            if until <= now:
                violations.add("snooze_until", "must be in the future")
            elif until > now + MAX_SNOOZE:
                violations.add("snooze_until", "at most 90 days ahead")
        return await self._transition(request, violations, status=tasks.SNOOZED, snooze_until=until)

    async def CancelTask(self, request, context_):
        violations = Violations()
        if len(request.outcome_note) > MAX_NOTE:
            violations.add("outcome_note", f"at most {MAX_NOTE} characters")
        return await self._transition(request, violations, status=tasks.CANCELLED, note=request.outcome_note.strip())

    async def _transition(self, request, violations: Violations, *, status, note="", snooze_until=None, complete=False):
        caller = context.principal()
        tid = _parse(violations, request.name, "tasks", "name")
        expected = None
        if request.etag:
            expected = wire.parse_etag(request.etag)
            if expected is None:
                violations.add("etag", "not an etag returned by this API")
        violations.raise_if_any()
        async with self._engine.begin() as conn:
            row = await tasks.get(conn, tid, lock=True)
            if row is None:
                raise task_access.missing(caller, request.name)
            task_access.check_task(caller, row.associate_id, row.store_id, request.name)
            if expected is not None and expected != row.version:
                raise Aborted(
                    "the task changed since it was read; get it again and retry",
                    reason="ETAG_MISMATCH",
                    metadata={"current_etag": wire.etag(row.version)},
                )
            if row.status not in _ACTIONABLE:
                raise FailedPrecondition(
                    f"the task is {task_mapping.STATUS_WORDS[row.status]}",
                    reason="TASK_CLOSED",
                    metadata={"resource": request.name, "status": task_mapping.STATUS_WORDS[row.status]},
                )
            updated = await tasks.set_status(
                conn, tid, status=status, note=note, snooze_until=snooze_until,
                complete_time=_now() if complete else None,
            )
            message = task_mapping.task(updated)
            await outbox.record(conn, task_events.task_changed(message, caller.subject, created=False))
            if status in (tasks.DONE, tasks.CANCELLED) and self._rules is not None:
                await self._roll_greeting(conn, updated)
        return message

    async def _roll_greeting(self, conn, row: tasks.TaskRow) -> None:
        """A greeting done (or dropped) makes room for the next year's."""
        if row.rule not in (task_rules.BIRTHDAY_GREETING, task_rules.ANNIVERSARY_GREETING):
            return
        dates = [d for d in await tasks.important_dates(conn, row.customer_id)
                 if task_rules.greeting_rule(d["kind"]) == row.rule]
        if not dates:
            return
        # Plan from the day after this occurrence, so the next one is next year's.
        after = datetime.fromisoformat(row.trigger_key).replace(tzinfo=timezone.utc) + timedelta(days=1)
        await self._rules.plan_greetings(conn, row.customer_id, dates, max(after, _now()), rules=[row.rule])
