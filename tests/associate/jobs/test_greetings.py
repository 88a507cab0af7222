"""Greetings roll from year to year: the next one is planned when this year's is closed,
and by the sweep for the ones nobody closed; planning twice opens nothing twice."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from atelier.associate.v1 import task_service_pb2 as api
from atelier.customer.v1 import customer_pb2
from servicekit.uow import Transactions
from services.associate.domain.tasks import TaskRuleConfig, next_occurrence
from services.associate.jobs import greeting_sweep
from services.associate.usecases import greetings

from ..support import TIMEOUT, assign, customer_with_dates, hq_p, md, publish, seed_store, uid, wait_for

GREETINGS = "SELECT id, trigger_key, status FROM tasks WHERE customer_id = %s AND rule = 'birthday_greeting' ORDER BY trigger_key"


async def test_completing_a_greeting_plans_next_years(tasks_service, task_stub, db):
    store, (a1,) = await seed_store(db)
    cid = f"c-{uid()}"
    await assign(db, cid, a1)
    await publish(
        tasks_service, customer_with_dates(cid, store=store, dates=[(customer_pb2.IMPORTANT_DATE_KIND_BIRTHDAY, 3, 15)])
    )
    ((task_id, key, _),) = await wait_for(db, GREETINGS, (cid,))
    await task_stub.CompleteTask(
        api.CompleteTaskRequest(name=f"tasks/{task_id}", outcome_note="Sent flowers"),
        metadata=md(hq_p()),
        timeout=TIMEOUT,
    )
    rows = await (await db.execute(GREETINGS, (cid,))).fetchall()
    this_year = date.fromisoformat(key)
    assert [(k, s) for _, k, s in rows] == [
        (key, 2),
        (next_occurrence(3, 15, date(this_year.year + 1, 1, 1)).isoformat(), 1),
    ]


async def test_sweep_plans_each_greeting_once(tasks_service, db):
    store, (a1,) = await seed_store(db, "Asia/Shanghai")
    cid = f"c-{uid()}"
    await assign(db, cid, a1)
    await db.execute(
        "INSERT INTO task_customers (customer_id, home_store, important_dates) VALUES (%s, %s, %s)",
        (cid, store, json.dumps([{"kind": customer_pb2.IMPORTANT_DATE_KIND_BIRTHDAY, "month": 2, "day": 29}])),
    )
    tx = Transactions(tasks_service.runtime.engine)
    now = datetime(2027, 1, 10, tzinfo=UTC)
    assert await greetings.sweep(tx, now, TaskRuleConfig(), batch=2) >= 1
    rows = await (await db.execute(GREETINGS, (cid,))).fetchall()
    assert [(k, s) for _, k, s in rows] == [("2027-02-28", 1)]
    await greetings.sweep(tx, now, TaskRuleConfig(), batch=2)
    assert len(await (await db.execute(GREETINGS, (cid,))).fetchall()) == 1
    # The hourly job is the same sweep at the current time.
    assert await greeting_sweep.run(tx, TaskRuleConfig()) >= 0
