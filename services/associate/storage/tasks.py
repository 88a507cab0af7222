"""Task storage: SQLAlchemy Core statements on the caller's connection (one transaction per
RPC or per event). The one-task-per-(rule, customer, trigger) invariant is the table's
unique constraint: inserts say ON CONFLICT DO NOTHING, never check-then-insert.

Reads the service's assignment tables (primary associate, her store, the store's time zone)
to route a new task; those belong to the assignment capability and are only read here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.access import TaskScope
from ..domain.names import bare
from ..domain.tasks import ImportantDate, PlannedTask, Route, RouteFacts, TaskFilter
from .statements import Filter, Position, as_row, as_rows, by_id, first

_COLUMNS = """id, kind, rule, customer_id, trigger_key, trigger_event, trigger_resource, associate_id,
store_id, title, channel, due_time, status, snooze_until, outcome_note, complete_time, version,
create_time, update_time"""


@dataclass(frozen=True)
class TaskRow:
    id: str
    kind: int
    rule: str
    customer_id: str
    trigger_key: str
    trigger_event: str
    trigger_resource: str
    associate_id: str
    store_id: str
    title: str
    channel: int
    due_time: datetime
    status: int
    snooze_until: datetime | None
    outcome_note: str
    complete_time: datetime | None
    version: int
    create_time: datetime
    update_time: datetime


_ROUTE_FACTS = sa.text(
    """
    SELECT COALESCE(a.associate_id, '') AS associate_id, COALESCE(s.store_id, '') AS holder_store,
           COALESCE(tc.home_store, '') AS known_home,
           (SELECT COALESCE(json_object_agg(st.id, st.time_zone), '{}') FROM stores st
            WHERE st.id = ANY(ARRAY[s.store_id, tc.home_store] || CAST(:stores AS text[]))) AS time_zones
    FROM (SELECT CAST(:cid AS text) AS customer_id) c
    LEFT JOIN assignments a ON a.customer_id = c.customer_id AND a.role = 1
    LEFT JOIN associates s ON s.id = a.associate_id
    LEFT JOIN task_customers tc ON tc.customer_id = c.customer_id
    """
)


async def route_facts(conn: AsyncConnection, customer_id: str, stores: Sequence[str]) -> RouteFacts:
    """What routing her task needs, with the time zones of `stores` (bare ids) among them."""
    r = (await conn.execute(_ROUTE_FACTS, {"cid": customer_id, "stores": list(stores)})).one()
    return RouteFacts(r.associate_id, r.holder_store, r.known_home, dict(r.time_zones))


_INSERT = sa.text(
    f"""
    INSERT INTO tasks (id, kind, rule, customer_id, trigger_key, trigger_event, trigger_resource,
                       associate_id, store_id, title, channel, due_time)
    VALUES (:id, :kind, :rule, :cid, :key, :event, :resource, :associate, :store, :title, :channel, :due)
    ON CONFLICT ON CONSTRAINT tasks_one_per_trigger DO NOTHING
    RETURNING {_COLUMNS}
    """
)


async def insert(
    conn: AsyncConnection,
    task_id: str,
    customer_id: str,
    planned: PlannedTask,
    route: Route,
    event_id: str = "",
    resource: str = "",
    kind: int | None = None,
) -> TaskRow | None:
    """The new (open) task, or None when this (rule, customer, trigger) already has one.
    `event_id`, `resource`: what triggered it; `kind`: when not the rule's."""
    params: dict[str, object] = {"id": task_id, "cid": customer_id, "event": event_id, "resource": resource}
    params |= {"associate": route.associate_id, "store": route.store_id, "kind": kind or planned.kind}
    params |= {"rule": planned.rule, "key": planned.trigger_key, "title": planned.title, "channel": planned.channel}
    return await first(conn, TaskRow, _INSERT, due=planned.due_time, **params)


_GET, _GET_LOCKED = by_id(f"SELECT {_COLUMNS} FROM tasks")


async def get(conn: AsyncConnection, task_id: str, *, lock: bool = False) -> TaskRow | None:
    return await first(conn, TaskRow, _GET_LOCKED if lock else _GET, id=task_id)


def _visible_now() -> str:
    # Open, or snoozed and woken: what an associate should act on.
    return "(status = 1 OR (status = 3 AND snooze_until <= :now))"


async def list_page(
    conn: AsyncConnection, scope: TaskScope, flt: TaskFilter, now: datetime, after: Position, limit: int
) -> list[TaskRow]:
    """Soonest due first."""
    where = Filter(limit)
    where.add("true", now=now)
    if scope.associate is not None:
        where.add("associate_id = :associate", associate=scope.associate)
    if scope.store is not None:
        where.add("store_id = :store", store=scope.store)
    if flt.customer_id:
        where.add("customer_id = :cid", cid=flt.customer_id)
    if flt.overdue_only:
        where.add(_visible_now() + " AND due_time < :now")
    elif flt.statuses:
        where.add("status = ANY(:statuses)", statuses=list(flt.statuses))
    else:
        where.add("status IN (1, 3)")
    if after is not None:
        where.add("(due_time, id) > (:after_due, :after_id)", after_due=after[0], after_id=after[1])
    sql = f"SELECT {_COLUMNS} FROM tasks{where.where} ORDER BY due_time, id LIMIT :limit"
    return as_rows(TaskRow, (await conn.execute(sa.text(sql), where.params)).all())


_SET_STATUS = sa.text(
    f"""
    UPDATE tasks SET status = :status, outcome_note = :note, snooze_until = :snooze,
                     complete_time = :complete_time, version = version + 1, update_time = now()
    WHERE id = :id
    RETURNING {_COLUMNS}
    """
)


async def set_status(
    conn: AsyncConnection,
    task_id: str,
    *,
    status: int,
    note: str = "",
    snooze_until: datetime | None = None,
    complete_time: datetime | None = None,
) -> TaskRow:
    r = (
        await conn.execute(
            _SET_STATUS,
            {"id": task_id, "status": status, "note": note, "snooze": snooze_until, "complete_time": complete_time},
        )
    ).one()
    return as_row(TaskRow, r)


_ANSWER_REPLIES = sa.text(
    f"""
    UPDATE tasks t SET status = 2, complete_time = :at, outcome_note = :note,
                       version = t.version + 1, update_time = now()
    FROM interaction_log i
    WHERE t.rule = 'reply_message' AND t.customer_id = :cid AND t.status IN (1, 3)
      AND i.interaction = t.trigger_resource AND i.occur_time <= :at
    RETURNING {", ".join("t." + c.strip() for c in _COLUMNS.split(","))}
    """
)


async def answer_replies(conn: AsyncConnection, customer_id: str, answered_at: datetime, note: str) -> list[TaskRow]:
    """Closes her open reply tasks for messages received up to an outbound message."""
    rows = await conn.execute(_ANSWER_REPLIES, {"cid": customer_id, "at": answered_at, "note": note})
    return as_rows(TaskRow, rows.all())


_MOVE = sa.text(
    """
    UPDATE tasks t SET associate_id = m.associate_id, version = t.version + 1, update_time = now()
    FROM unnest(CAST(:customers AS text[]), CAST(:associates AS text[])) AS m(customer_id, associate_id)
    WHERE t.customer_id = m.customer_id AND t.associate_id = :from_associate AND t.status IN (1, 3)
    """
)


async def move_open_tasks(conn: AsyncConnection, moves: Sequence[tuple[str, str]], from_associate: str) -> int:
    """Moves the open (and snoozed) tasks of `from_associate` on the given customers to
    their new associates, in one statement; returns how many tasks moved.

    For the hand-over (and transfers): call it inside the same transaction that changes the
    assignments, with the chunk's (customer_id, new_associate_id) pairs, so tasks and
    assignments move together and a resumed hand-over moves nothing twice (a moved task no
    longer belongs to `from_associate`). Ids may be bare (`c-1`) or resource names
    (`customers/c-1`, `associates/a-2`). Tasks of the customers held by someone else, done
    or cancelled tasks, and tasks in a store queue stay where they are. No events: the
    assignment_changed events of the same transaction are the fact others follow.
    """
    if not moves:
        return 0
    result = await conn.execute(
        _MOVE,
        {
            "customers": [bare(c, "customers") for c, _ in moves],
            "associates": [bare(a, "associates") for _, a in moves],
            "from_associate": bare(from_associate, "associates"),
        },
    )
    return int(result.rowcount)


_UPSERT_CUSTOMER = sa.text(
    """
    INSERT INTO task_customers (customer_id, home_store, important_dates)
    VALUES (:cid, :home, CAST(:dates AS jsonb))
    ON CONFLICT (customer_id) DO UPDATE
    SET home_store = EXCLUDED.home_store, important_dates = EXCLUDED.important_dates, update_time = now()
    """
)


def _dates_json(dates: Sequence[ImportantDate]) -> str:
    return json.dumps([{"kind": d.kind, "month": d.month, "day": d.day} for d in dates])


def _dates(stored: list[dict[str, Any]] | None) -> list[ImportantDate]:
    return [ImportantDate(int(d["kind"]), int(d["month"]), int(d["day"])) for d in stored or []]


async def upsert_customer(
    conn: AsyncConnection, customer_id: str, home_store: str, dates: Sequence[ImportantDate]
) -> None:
    params = {"cid": customer_id, "home": bare(home_store, "stores"), "dates": _dates_json(dates)}
    await conn.execute(_UPSERT_CUSTOMER, params)


_CANCEL_GREETINGS = sa.text(
    f"""
    UPDATE tasks SET status = 4, outcome_note = :note, version = version + 1, update_time = now()
    WHERE customer_id = :cid AND rule = ANY(:rules) AND status IN (1, 3) AND NOT (trigger_key = ANY(:keep))
      AND trigger_key >= :today
    RETURNING {_COLUMNS}
    """
)


async def cancel_stale_greetings(
    conn: AsyncConnection, customer_id: str, rules: Sequence[str], keep: Sequence[str], today: str, note: str
) -> list[TaskRow]:
    """Cancels open greetings of coming dates she no longer has (a birthday corrected or
    removed); greetings of days already past stay as they are. Keys are ISO dates."""
    params = {"cid": customer_id, "rules": list(rules), "keep": list(keep), "today": today, "note": note}
    return as_rows(TaskRow, (await conn.execute(_CANCEL_GREETINGS, params)).all())


_GREETING_SWEEP = sa.text(
    """
    SELECT tc.customer_id, tc.home_store, tc.important_dates
    FROM task_customers tc
    WHERE jsonb_array_length(tc.important_dates) > 0 AND tc.customer_id > :after
    ORDER BY tc.customer_id
    LIMIT :limit
    """
)


@dataclass(frozen=True)
class DatedCustomer:
    customer_id: str
    dates: list[ImportantDate]


async def greeting_candidates(conn: AsyncConnection, after: str, limit: int) -> list[DatedCustomer]:
    """Customers with important dates, by id after `after`."""
    rows = await conn.execute(_GREETING_SWEEP, {"after": after, "limit": limit})
    return [DatedCustomer(r.customer_id, _dates(r.important_dates)) for r in rows]


_INBOUND_ANSWERED = sa.text(
    """
    SELECT EXISTS (SELECT 1 FROM interaction_log
                   WHERE customer_id = :cid AND kind = 1 AND direction = 2 AND occur_time >= :at)
    """
)


async def answered_since(conn: AsyncConnection, customer_id: str, received: datetime) -> bool:
    """Whether an outbound message to her is already known at or after `received` (events
    of two consumers may arrive in any order)."""
    return bool((await conn.execute(_INBOUND_ANSWERED, {"cid": customer_id, "at": received})).scalar())


_LAST_INBOUND_CHANNEL = sa.text(
    """
    SELECT channel FROM interaction_log
    WHERE customer_id = :cid AND kind = 1 AND direction = 1 AND channel <> 0
    ORDER BY occur_time DESC LIMIT 1
    """
)


async def last_inbound_channel(conn: AsyncConnection, customer_id: str) -> int:
    """The channel she last wrote on: the one to suggest for reaching her."""
    return int((await conn.execute(_LAST_INBOUND_CHANNEL, {"cid": customer_id})).scalar() or 0)


_REASSIGN = sa.text(
    """
    UPDATE tasks SET associate_id = :associate, store_id = COALESCE(NULLIF(:store, ''), store_id),
                     version = version + 1, update_time = now()
    WHERE customer_id = :cid AND status IN (1, 3) AND associate_id IN ('', :previous) AND associate_id <> :associate
    """
)


async def follow_assignment(conn: AsyncConnection, customer_id: str, previous: str, associate: str, store: str) -> int:
    """Her new primary associate takes over her open tasks held by the previous one or
    waiting in the store queue (e.g. a greeting planned before she was assigned)."""
    result = await conn.execute(
        _REASSIGN,
        {
            "cid": customer_id,
            "previous": bare(previous, "associates"),
            "associate": bare(associate, "associates"),
            "store": bare(store, "stores"),
        },
    )
    return int(result.rowcount)


_MERGE = sa.text(
    """
    UPDATE tasks t SET customer_id = :survivor, version = t.version + 1, update_time = now()
    WHERE t.customer_id = :duplicate
      AND NOT EXISTS (SELECT 1 FROM tasks x
                      WHERE x.customer_id = :survivor AND x.rule = t.rule AND x.trigger_key = t.trigger_key)
    """
)


async def merge_customer(conn: AsyncConnection, duplicate: str, survivor: str) -> None:
    """A merge re-points the duplicate's tasks; one she already has for the same trigger is
    cancelled rather than kept twice."""
    await conn.execute(_MERGE, {"duplicate": duplicate, "survivor": survivor})
    await conn.execute(
        sa.text(
            "UPDATE tasks SET status = 4, outcome_note = 'merged into another customer', version = version + 1, "
            "update_time = now() WHERE customer_id = :duplicate AND status IN (1, 3)"
        ),
        {"duplicate": duplicate},
    )
    await conn.execute(
        sa.text(
            "INSERT INTO task_customers (customer_id, home_store, important_dates) "
            "SELECT :survivor, home_store, important_dates FROM task_customers WHERE customer_id = :duplicate "
            "ON CONFLICT (customer_id) DO NOTHING"
        ),
        {"duplicate": duplicate, "survivor": survivor},
    )
    await conn.execute(sa.text("DELETE FROM task_customers WHERE customer_id = :d"), {"d": duplicate})


async def erase_customer(conn: AsyncConnection, customer_id: str) -> None:
    """Erasure: open tasks are cancelled and what associates wrote about her is removed;
    the tasks stay (without personal data) so past figures keep counting them."""
    await conn.execute(
        sa.text(
            "UPDATE tasks SET status = CASE WHEN status IN (1, 3) THEN 4 ELSE status END, outcome_note = '', "
            "title = '', version = version + 1, update_time = now() WHERE customer_id = :cid"
        ),
        {"cid": customer_id},
    )
    await conn.execute(sa.text("DELETE FROM task_customers WHERE customer_id = :cid"), {"cid": customer_id})


_DATES = sa.text("SELECT important_dates FROM task_customers WHERE customer_id = :c")


async def important_dates(conn: AsyncConnection, customer_id: str) -> list[ImportantDate]:
    return _dates((await conn.execute(_DATES, {"c": customer_id})).scalar())
