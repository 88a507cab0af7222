"""Tasks and performance over HTTP through the real gateway: routes from the
google.api.http annotations, JSON bodies, errors and denials as HTTP statuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import bearer

from ..support import known_customer, seed_store


async def test_tasks_and_figures_over_http(tasks_http, db):
    store, (a1, a2) = await seed_store(db, associates=("a", "b"))
    me = bearer("associate", store=f"stores/{store}", associate_id=a1, subject=f"associates/{a1}")
    colleague = bearer("associate", store=f"stores/{store}", associate_id=a2, subject=f"associates/{a2}")
    due = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")

    created = await tasks_http.post(
        "/v1/tasks",
        json={
            "customer": f"customers/{await known_customer(db, store, a1)}",
            "dueTime": due,
            "title": "Send the sketch",
        },
        headers=me,
    )
    assert created.status_code == 200, created.text
    task = created.json()
    assert task["associate"] == f"associates/{a1}" and task["status"] == "TASK_STATUS_OPEN"

    overdue = await tasks_http.get("/v1/tasks", params={"overdue_only": "true"}, headers=me)
    assert [t["name"] for t in overdue.json()["tasks"]] == [task["name"]]

    invalid = await tasks_http.post(f"/v1/{task['name']}:complete", json={}, headers=me)
    assert invalid.status_code == 400
    assert "outcome_note" in invalid.text

    denied = await tasks_http.post(f"/v1/{task['name']}:complete", json={"outcomeNote": "x"}, headers=colleague)
    assert denied.status_code == 403

    done = await tasks_http.post(
        f"/v1/{task['name']}:complete", json={"outcomeNote": "Sent on WhatsApp", "etag": task["etag"]}, headers=me
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "TASK_STATUS_DONE"

    start = (datetime.now(UTC) - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    end = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    figures = await tasks_http.get(
        "/v1/performance", params={"scope": f"associates/{a1}", "start_time": start, "end_time": end}, headers=me
    )
    assert figures.status_code == 200, figures.text
    assert figures.json()["tasksDue"] == 1 and figures.json().get("tasksDoneOnTime", 0) == 0  # done late

    theirs = await tasks_http.get(
        "/v1/performance", params={"scope": f"associates/{a2}", "start_time": start, "end_time": end}, headers=me
    )
    assert theirs.status_code == 403
    ledger = await tasks_http.get("/v1/attributions", headers=bearer("manager", store=f"stores/{store}"))
    assert ledger.status_code == 200 and ledger.json().get("attributions", []) == []
