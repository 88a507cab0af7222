"""Tasks generated from events on the real stack: follow-ups in store time, greetings,
replies, appointment preparation, one task per trigger whatever the redelivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from atelier.associate.v1 import task_service_pb2 as task_api
from atelier.common.v1 import common_pb2
from atelier.customer.v1 import customer_pb2, interaction_pb2
from servicekit import event_types
from services.associate.consumers.tasks import appointment_fields
from services.associate.domain.tasks import TaskStatus
from services.associate.storage import tasks as task_storage

from ..support import (
    TIMEOUT,
    appointment_booked,
    assign,
    assignment_changed,
    associate_p,
    customer_with_dates,
    interaction_recorded,
    md,
    publish,
    purchase_recorded,
    seed_store,
    settle,
    uid,
    wait_for,
)

Kind = interaction_pb2.InteractionKind
PARIS = ZoneInfo("Europe/Paris")
TASKS = "SELECT rule, associate_id, store_id, due_time, status, trigger_resource, channel, trigger_key FROM tasks WHERE customer_id = %s ORDER BY due_time"


async def test_purchase_opens_a_follow_up_due_at_ten_in_the_store(tasks_service, db):
    store, (a1,) = await seed_store(db, "Asia/Shanghai")
    cid = f"c-{uid()}"
    await assign(db, cid, a1)
    # 23:30 in Shanghai on 2 November 2026 (15:30 UTC): follow-up on 5 November at 10:00 local.
    envelope = purchase_recorded(cid, store=store, order_time=datetime(2026, 11, 2, 15, 30, tzinfo=UTC))
    await publish(tasks_service, envelope)
    rows = await wait_for(db, TASKS, (cid,))
    rule, associate, task_store, due, status, resource, _, _ = rows[0]
    assert (rule, associate, task_store, status) == ("follow_up_purchase", a1, store, TaskStatus.OPEN)
    assert due == datetime(2026, 11, 5, 2, 0, tzinfo=UTC)
    assert resource.endswith("/purchases/" + resource.rsplit("/", 1)[-1]) and resource.startswith(f"customers/{cid}/")


async def test_redelivered_and_replayed_events_create_one_task(tasks_service, db):
    store, (a1,) = await seed_store(db)
    cid = f"c-{uid()}"
    await assign(db, cid, a1)
    envelope = purchase_recorded(cid, store=store, order_time=datetime.now(UTC), purchase_id="p-1")
    # Published twice (the stream deduplicates on Nats-Msg-Id) ...
    await publish(tasks_service, envelope, envelope)
    await wait_for(db, TASKS, (cid,))
    # ... applied again by hand, as a redelivery after a lost ack would be ...
    consumer = next(c for c in tasks_service.runtime.consumers if c.durable.endswith("-tasks"))
    assert await consumer.apply(envelope) is False
    # ... and the same purchase replayed under a new event id.
    replay = purchase_recorded(cid, store=store, order_time=datetime.now(UTC), purchase_id="p-1")
    assert replay.id != envelope.id
    await publish(tasks_service, replay)
    await settle(tasks_service)
    rows = await (await db.execute(TASKS, (cid,))).fetchall()
    assert len(rows) == 1
    ledger = await (await db.execute("SELECT count(*) FROM attributions WHERE customer_id = %s", (cid,))).fetchone()
    assert ledger[0] == 1


async def test_customer_without_associate_goes_to_the_store_queue(tasks_service, db):
    store, _ = await seed_store(db, "Europe/London")
    cid = f"c-{uid()}"
    await publish(tasks_service, purchase_recorded(cid, store=store, order_time=datetime.now(UTC)))
    rows = await wait_for(db, TASKS, (cid,))
    assert rows[0][1] == "" and rows[0][2] == store


async def test_new_primary_associate_takes_over_queued_tasks(tasks_service, db):
    store, (a1,) = await seed_store(db)
    cid = f"c-{uid()}"
    await publish(tasks_service, purchase_recorded(cid, store=store, order_time=datetime.now(UTC)))
    await wait_for(db, TASKS, (cid,))
    await publish(tasks_service, assignment_changed(cid, previous="", associate=a1, store=store))
    rows = await wait_for(db, TASKS, (cid,), lambda rows: rows and rows[0][1] == a1)
    assert rows[0][2] == store


async def test_birthday_greeting_for_the_next_occurrence(tasks_service, db):
    store, (a1,) = await seed_store(db, "Europe/Paris")
    cid = f"c-{uid()}"
    await assign(db, cid, a1)
    envelope = customer_with_dates(
        cid,
        store=store,
        dates=[(customer_pb2.IMPORTANT_DATE_KIND_BIRTHDAY, 2, 29), (customer_pb2.IMPORTANT_DATE_KIND_OTHER, 5, 5)],
    )
    await publish(tasks_service, envelope)
    rows = await wait_for(db, TASKS, (cid,))
    assert len(rows) == 1
    rule, associate, _, due, _, _, _, key = rows[0]
    occurred = envelope.occurred_at.ToDatetime(tzinfo=UTC)
    assert rule == "birthday_greeting" and associate == a1
    occurrence = datetime.fromisoformat(key).date()
    assert occurrence.month == 2 and occurrence.day in (28, 29) and occurrence >= occurred.date()
    assert due <= datetime(occurrence.year, occurrence.month, occurrence.day, tzinfo=UTC) - timedelta(days=6)


async def test_a_birthday_three_days_ahead_is_due_today_and_not_overdue(tasks_service, task_stub, db):
    """Audit item 19: a greeting added fewer than 7 days before the date is due today in
    the store (at its hour, or by the end of its day), not overdue when it appears."""
    store, (a1,) = await seed_store(db, "Europe/Paris")
    cid = f"c-{uid()}"
    await assign(db, cid, a1)
    soon = datetime.now(PARIS) + timedelta(days=3)
    envelope = customer_with_dates(
        cid, store=store, dates=[(customer_pb2.IMPORTANT_DATE_KIND_BIRTHDAY, soon.month, soon.day)]
    )
    await publish(tasks_service, envelope)
    await wait_for(db, TASKS, (cid,))
    task_id = (await (await db.execute("SELECT id FROM tasks WHERE customer_id = %s", (cid,))).fetchone())[0]
    got = await task_stub.GetTask(
        task_api.GetTaskRequest(name=f"tasks/{task_id}"), metadata=md(associate_p(store, a1)), timeout=TIMEOUT
    )
    due = got.due_time.ToDatetime(tzinfo=UTC)
    occurred = envelope.occurred_at.ToDatetime(tzinfo=UTC)
    assert not got.overdue and due > datetime.now(UTC)
    assert (due - timedelta(microseconds=1)).astimezone(PARIS).date() == occurred.astimezone(PARIS).date()


async def test_inbound_message_opens_a_reply_task_an_answer_closes_it(tasks_service, db):
    store, (a1,) = await seed_store(db)
    cid = f"c-{uid()}"
    await assign(db, cid, a1)
    received = datetime.now(UTC) - timedelta(hours=2)
    inbound = interaction_recorded(
        cid,
        kind=Kind.INTERACTION_KIND_MESSAGE,
        direction=interaction_pb2.DIRECTION_INBOUND,
        channel=common_pb2.CHANNEL_WHATSAPP,
        occur_time=received,
        store=store,
    )
    await publish(tasks_service, inbound)
    rows = await wait_for(db, TASKS, (cid,))
    rule, associate, _, due, status, resource, channel, _ = rows[0]
    assert (rule, associate, status, channel) == ("reply_message", a1, 1, common_pb2.CHANNEL_WHATSAPP)
    assert due == received + timedelta(hours=24)
    assert resource == inbound.subject  # the interaction that triggered it
    answered = received + timedelta(minutes=30)
    await publish(
        tasks_service,
        interaction_recorded(
            cid,
            kind=Kind.INTERACTION_KIND_MESSAGE,
            direction=interaction_pb2.DIRECTION_OUTBOUND,
            channel=common_pb2.CHANNEL_WHATSAPP,
            occur_time=answered,
            associate=a1,
        ),
    )
    done = await wait_for(
        db,
        "SELECT status, complete_time, outcome_note FROM tasks WHERE customer_id = %s",
        (cid,),
        lambda rows: rows and rows[0][0] == TaskStatus.DONE,
    )
    assert done[0][1] == answered and done[0][2] == "answered"


async def test_message_already_answered_opens_no_reply_task(tasks_service, db):
    await seed_store(db)
    cid = f"c-{uid()}"
    received = datetime.now(UTC) - timedelta(hours=3)
    outbound = interaction_recorded(
        cid,
        kind=Kind.INTERACTION_KIND_MESSAGE,
        direction=interaction_pb2.DIRECTION_OUTBOUND,
        occur_time=received + timedelta(minutes=5),
    )
    inbound = interaction_recorded(
        cid, kind=Kind.INTERACTION_KIND_MESSAGE, direction=interaction_pb2.DIRECTION_INBOUND, occur_time=received
    )
    # The answer's event is handled first (events of a customer may arrive in any order).
    await publish(tasks_service, outbound)
    await wait_for(db, "SELECT 1 FROM interaction_log WHERE customer_id = %s", (cid,))
    await publish(tasks_service, inbound)
    await settle(tasks_service)
    assert await (await db.execute(TASKS, (cid,))).fetchall() == []


async def test_store_visit_opens_a_follow_up(tasks_service, db):
    store, (a1,) = await seed_store(db, "America/New_York")
    cid = f"c-{uid()}"
    await assign(db, cid, a1)
    visit = datetime(2026, 10, 30, 18, tzinfo=UTC)
    await publish(
        tasks_service, interaction_recorded(cid, kind=Kind.INTERACTION_KIND_STORE_VISIT, occur_time=visit, store=store)
    )
    rows = await wait_for(db, TASKS, (cid,))
    assert rows[0][0] == "follow_up_visit"
    assert rows[0][3] == datetime(2026, 11, 2, 15, tzinfo=UTC)  # 10:00 EST, after the DST change


async def test_booked_appointment_opens_a_preparation_task(tasks_service, db):
    store, (a1, a2) = await seed_store(db, "Europe/Paris", associates=("a", "b"))
    cid = f"c-{uid()}"
    await assign(db, cid, a1)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=5)
    booking = appointment_booked(cid, appointment=f"ap-{uid()}", associate=a2, store=store, start=start)
    assert appointment_fields(booking)["start_time"].endswith("Z")
    await publish(tasks_service, booking, booking)
    rows = await wait_for(db, TASKS, (cid,))
    assert len(rows) == 1
    rule, associate, _, due, _, resource, _, _ = rows[0]
    assert (rule, associate) == ("appointment_preparation", a2)  # the associate she booked with
    assert resource.startswith("appointments/ap-")
    assert due < start and (start - due) < timedelta(days=2)


async def test_move_open_tasks_for_a_hand_over(tasks_service, db):
    store, (a1, a2, a3) = await seed_store(db, associates=("a", "b", "c"))
    c1, c2 = f"c-{uid()}", f"c-{uid()}"
    await assign(db, c1, a1)
    await assign(db, c2, a1)
    now = datetime.now(UTC)
    await publish(
        tasks_service,
        purchase_recorded(c1, store=store, order_time=now),
        purchase_recorded(c2, store=store, order_time=now),
        purchase_recorded(c2, store=store, order_time=now - timedelta(days=1)),
    )
    await wait_for(db, "SELECT 1 FROM tasks WHERE customer_id = ANY(%s)", ([c1, c2],), lambda r: len(r) == 3)
    await db.execute(
        "UPDATE tasks SET status = 2 WHERE customer_id = %s AND due_time = "
        "(SELECT min(due_time) FROM tasks WHERE customer_id = %s)",
        (c2, c2),
    )
    engine = tasks_service.runtime.engine
    async with engine.begin() as conn:
        moved = await task_storage.move_open_tasks(conn, [(c1, a2), (f"customers/{c2}", f"associates/{a3}")], a1)
    assert moved == 2  # the done task stays with her
    async with engine.begin() as conn:
        assert await task_storage.move_open_tasks(conn, [(c1, a2), (c2, a3)], a1) == 0  # resumed: nothing twice
    rows = await (
        await db.execute(
            "SELECT customer_id, associate_id, status FROM tasks WHERE customer_id = ANY(%s) ORDER BY customer_id, status",
            ([c1, c2],),
        )
    ).fetchall()
    assert sorted(rows) == sorted([(c1, a2, 1), (c2, a3, 1), (c2, a1, 2)])


def test_booking_payload_of_an_unknown_type_is_poison():
    import pytest
    from google.protobuf import duration_pb2

    from servicekit.events import new_envelope
    from servicekit.inbox import PoisonEvent

    strange = new_envelope(
        event_type=event_types.APPOINTMENT_BOOKED,
        source="appointments",
        subject="appointments/x",
        payload=duration_pb2.Duration(seconds=1),
        actor="x",
    )
    strange.payload.type_url = "type.googleapis.com/atelier.events.v1.NoSuchBooking"
    with pytest.raises(PoisonEvent):
        appointment_fields(strange)


async def test_merge_repoints_tasks_and_erasure_cancels_them(tasks_service, db):
    from atelier.events.v1 import customer_events_pb2 as cev
    from servicekit.events import new_envelope

    store, (a1,) = await seed_store(db)
    survivor, duplicate = f"c-{uid()}", f"c-{uid()}"
    await assign(db, survivor, a1)
    now = datetime.now(UTC)
    await publish(
        tasks_service,
        purchase_recorded(survivor, store=store, order_time=now),
        purchase_recorded(duplicate, store=store, order_time=now - timedelta(days=1)),
    )
    await wait_for(
        db, "SELECT 1 FROM tasks WHERE customer_id = ANY(%s)", ([survivor, duplicate],), lambda r: len(r) == 2
    )
    merged = new_envelope(
        event_type=event_types.CUSTOMER_MERGED,
        source="customer",
        subject=f"customers/{survivor}",
        payload=cev.CustomerMerged(survivor=f"customers/{survivor}", duplicate=f"customers/{duplicate}"),
        actor="x",
    )
    await publish(tasks_service, merged)
    await wait_for(db, "SELECT 1 FROM tasks WHERE customer_id = %s", (survivor,), lambda r: len(r) == 2)
    await db.execute("UPDATE tasks SET outcome_note = 'she said her husband…' WHERE customer_id = %s", (survivor,))
    erased = new_envelope(
        event_type=event_types.CUSTOMER_ERASED,
        source="customer",
        subject=f"customers/{survivor}",
        payload=cev.CustomerErased(customer=f"customers/{survivor}"),
        actor="x",
    )
    await publish(tasks_service, erased)
    rows = await wait_for(
        db,
        "SELECT status, outcome_note, title FROM tasks WHERE customer_id = %s",
        (survivor,),
        lambda r: r and all(row[0] == TaskStatus.CANCELLED for row in r),
    )
    assert rows == [(TaskStatus.CANCELLED, "", "")] * 2
