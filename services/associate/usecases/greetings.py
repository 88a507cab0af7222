"""Birthday and anniversary greetings: planned when a customer's dates are learnt or
change, rolled to next year when this year's is closed, and swept hourly for the ones
nobody closed (jobs.greeting_sweep)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from servicekit import names
from servicekit.auth import SYSTEM
from servicekit.uow import Transactions, UnitOfWork

from ..domain import tasks as planning
from ..domain.tasks import ImportantDate, TaskRuleConfig
from ..messages import events
from ..messages import tasks as messages
from ..storage import tasks
from ..storage.tasks import TaskRow
from . import task_routes

SWEEP_BATCH = 500


async def dates_changed(
    uow: UnitOfWork,
    customer_id: str,
    home_store: str,
    dates: Sequence[ImportantDate],
    when: datetime,
    event_id: str,
    config: TaskRuleConfig,
) -> None:
    """A customer was created or updated: her dates are kept (for the sweep) and her
    greetings planned again."""
    greeted = [d for d in dates if planning.greeting_rule(d.kind)]
    await tasks.upsert_customer(uow.conn, customer_id, home_store, greeted)
    await plan(uow, customer_id, greeted, when, config, event_id)


async def plan(
    uow: UnitOfWork,
    customer_id: str,
    dates: Sequence[ImportantDate],
    now: datetime,
    config: TaskRuleConfig,
    event_id: str = "",
    rules: Sequence[str] = planning.GREETING_RULES,
) -> int:
    """Opens the greeting of the next occurrence of each date, and cancels coming
    greetings (of `rules`) for dates she no longer has. Returns how many it opened."""
    conn = uow.conn
    route = await task_routes.route(conn, customer_id)
    tz = planning.zone(route.time_zone)
    keep = []
    opened = 0
    for item in dates:
        rule = planning.greeting_rule(item.kind)
        planned = planning.greeting(rule, item.month, item.day, now, tz, config) if rule else None
        if planned is None:
            continue
        keep.append(planned.trigger_key)
        row = await tasks.insert(
            conn, names.new_id(), customer_id, planned, route, event_id, f"customers/{customer_id}"
        )
        if row is not None:
            opened += 1
            uow.emit(events.task_changed(messages.task(row), uow.caller.subject, created=True))
    today = planning.local_day(now, tz).isoformat()
    stale = await tasks.cancel_stale_greetings(conn, customer_id, rules, keep, today, "the date was changed or removed")
    uow.emit(*(events.task_changed(messages.task(r), uow.caller.subject, created=False) for r in stale))
    return opened


async def roll(uow: UnitOfWork, closed: TaskRow, now: datetime, config: TaskRuleConfig) -> None:
    """A greeting done (or dropped) makes room for the next year's."""
    if closed.rule not in planning.GREETING_RULES:
        return
    dates = [
        d
        for d in await tasks.important_dates(uow.conn, closed.customer_id)
        if planning.greeting_rule(d.kind) == closed.rule
    ]
    if dates:
        after = planning.next_greeting_after(closed.trigger_key, now)
        await plan(uow, closed.customer_id, dates, after, config, rules=[closed.rule])


async def sweep(tx: Transactions, now: datetime, config: TaskRuleConfig, batch: int = SWEEP_BATCH) -> int:
    """Plans the next greeting of every customer with dates (the yearly roll for greetings
    nobody closed). Safe to run any time, on any replica, as often as wanted: the unique
    trigger key makes a planned greeting a no-op. One unit of work per batch."""
    opened, after = 0, ""
    while True:
        async with tx.begin(SYSTEM) as uow:
            batch_rows = await tasks.greeting_candidates(uow.conn, after, batch)
            for customer in batch_rows:
                opened += await plan(uow, customer.customer_id, customer.dates, now, config)
        if len(batch_rows) < batch:
            return opened
        after = batch_rows[-1].customer_id
