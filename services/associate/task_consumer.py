"""The task rules applied to events: customer facts open, move and close tasks.

Runs in the inbox transaction of each event (servicekit.inbox), so a redelivered event is
skipped; a replayed fact with a new event id finds its task already there (unique
(rule, customer, trigger)) and opens nothing. Times come from the facts and the envelope,
never the wall clock, so applying the same event twice plans the same task.
"""

from __future__ import annotations

import importlib
import json
from datetime import datetime, timezone

from google.protobuf import json_format, struct_pb2, symbol_database
from sqlalchemy.ext.asyncio import AsyncConnection

from atelier.customer.v1 import interaction_pb2
from atelier.events.v1 import associate_events_pb2 as aev, customer_events_pb2 as cev, envelope_pb2
from servicekit import names, outbox
from servicekit.auth import SYSTEM
from servicekit.events import unpack
from servicekit.inbox import PoisonEvent

from . import task_events
from .domain import task_rules
from .domain.task_access import bare
from .domain.task_rules import PlannedTask, TaskRuleConfig
from .storage import interactions, task_mapping, tasks

CUSTOMER_CREATED = "atelier.customer.created"
CUSTOMER_UPDATED = "atelier.customer.updated"
PURCHASE_RECORDED = "atelier.customer.purchase_recorded"
INTERACTION_RECORDED = "atelier.customer.interaction_recorded"
CUSTOMER_MERGED = "atelier.customer.merged"
CUSTOMER_ERASED = "atelier.customer.erased"
ASSIGNMENT_CHANGED = "atelier.associate.assignment_changed"
APPOINTMENT_BOOKED = "atelier.appointments.booked"

EVENT_TYPES = (
    CUSTOMER_CREATED, CUSTOMER_UPDATED, PURCHASE_RECORDED, INTERACTION_RECORDED, CUSTOMER_MERGED,
    CUSTOMER_ERASED, ASSIGNMENT_CHANGED, APPOINTMENT_BOOKED,
)

GREETING_RULES = [task_rules.BIRTHDAY_GREETING, task_rules.ANNIVERSARY_GREETING]
Kind = interaction_pb2.InteractionKind
Direction = interaction_pb2.Direction


def _time(ts) -> datetime:
    return ts.ToDatetime(tzinfo=timezone.utc)


def parse_customer(name: str) -> str:
    try:
        return names.parse(name, "customers", "customer")
    except Exception:
        raise PoisonEvent(f"not a customer name: {name!r}") from None


class TaskRules:
    def __init__(self, config: TaskRuleConfig | None = None):
        self.config = config or TaskRuleConfig.from_env()

    async def handle(self, conn: AsyncConnection, envelope: envelope_pb2.EventEnvelope) -> None:
        handler = {
            CUSTOMER_CREATED: self._customer_created,
            CUSTOMER_UPDATED: self._customer_updated,
            PURCHASE_RECORDED: self._purchase,
            INTERACTION_RECORDED: self._interaction,
            CUSTOMER_MERGED: self._merged,
            CUSTOMER_ERASED: self._erased,
            ASSIGNMENT_CHANGED: self._assignment,
            APPOINTMENT_BOOKED: self._appointment,
        }[envelope.type]
        await handler(conn, envelope)

    async def _open(
        self, conn, envelope, customer_id: str, planned: PlannedTask, route: tasks.Route, resource: str
    ) -> None:
        row = await tasks.insert(
            conn, task_id=names.new_id(), customer_id=customer_id, planned=planned, route=route,
            event_id=envelope.id, resource=resource,
        )
        if row is not None:
            await outbox.record(
                conn, task_events.task_changed(task_mapping.task(row), SYSTEM.subject, created=True)
            )

    async def _emit(self, conn, rows) -> None:
        if rows:
            await outbox.record(
                conn, *(task_events.task_changed(task_mapping.task(r), SYSTEM.subject, created=False) for r in rows)
            )

    # -- greetings -----------------------------------------------------------

    async def _customer_created(self, conn, envelope) -> None:
        event = unpack(envelope, cev.CustomerCreated)
        await self._dates(conn, envelope, event.customer)

    async def _customer_updated(self, conn, envelope) -> None:
        event = unpack(envelope, cev.CustomerUpdated)
        await self._dates(conn, envelope, event.customer)

    async def _dates(self, conn, envelope, customer) -> None:
        cid = parse_customer(customer.name)
        dates = [
            {"kind": d.kind, "month": d.date.month, "day": d.date.day}
            for d in customer.important_dates
            if task_rules.greeting_rule(d.kind)
        ]
        await tasks.upsert_customer(conn, cid, customer.home_store, json.dumps(dates))
        await self.plan_greetings(conn, cid, dates, _time(envelope.occurred_at), envelope.id)

    async def plan_greetings(
        self, conn, cid: str, dates: list[dict], now: datetime, event_id: str = "", rules: list[str] = GREETING_RULES
    ) -> int:
        """Opens the greeting of the next occurrence of each date, and cancels coming
        greetings (of `rules`) for dates she no longer has. Also used by the yearly roll.
        Returns how many greetings it opened."""
        route = await tasks.route(conn, cid)
        tz = task_rules.zone(route.time_zone)
        keep = []
        opened = 0
        for item in dates:
            rule = task_rules.greeting_rule(item["kind"])
            planned = task_rules.greeting(rule, item["month"], item["day"], now, tz, self.config)
            if planned is None:
                continue
            keep.append(planned.trigger_key)
            row = await tasks.insert(
                conn, task_id=names.new_id(), customer_id=cid, planned=planned, route=route, event_id=event_id,
                resource=f"customers/{cid}",
            )
            if row is not None:
                opened += 1
                await outbox.record(
                    conn, task_events.task_changed(task_mapping.task(row), SYSTEM.subject, created=True)
                )
        today = task_rules.local_day(now, tz).isoformat()
        stale = await tasks.cancel_stale_greetings(
            conn, cid, list(rules), keep, today, "the date was changed or removed"
        )
        await self._emit(conn, stale)
        return opened

    async def sweep_greetings(self, engine, now: datetime, batch: int = 500) -> int:
        """Plans the next greeting of every customer with dates (the yearly roll for
        greetings nobody closed). Safe to run any time, on any replica, as often as wanted:
        the unique trigger key makes a planned greeting a no-op. One transaction per batch."""
        opened, after = 0, ""
        while True:
            async with engine.begin() as conn:
                rows = await tasks.greeting_candidates(conn, after, batch)
                for row in rows:
                    opened += await self.plan_greetings(conn, row.customer_id, list(row.important_dates), now)
            if len(rows) < batch:
                return opened
            after = rows[-1].customer_id

    # -- purchases, visits, messages ----------------------------------------

    async def _purchase(self, conn, envelope) -> None:
        event = unpack(envelope, cev.PurchaseRecorded)
        cid = parse_customer(event.customer)
        purchase = event.purchase
        route = await tasks.route(conn, cid, event.home_store, purchase.store)
        planned = task_rules.follow_up_purchase(
            purchase.name, _time(purchase.order_time), task_rules.zone(route.time_zone), self.config
        )
        channel = await tasks.last_inbound_channel(conn, cid)
        planned = PlannedTask(planned.rule, planned.trigger_key, planned.due_time, planned.title, channel)
        await self._open(conn, envelope, cid, planned, route, purchase.name)

    async def _interaction(self, conn, envelope) -> None:
        event = unpack(envelope, cev.InteractionRecorded)
        cid = parse_customer(event.customer)
        it = event.interaction
        occur = _time(it.occur_time)
        await interactions.record(
            conn, name=it.name, customer_id=cid, kind=it.kind, direction=it.direction, channel=it.channel,
            store=it.store, associate=it.associate, occur_time=occur,
        )
        if it.kind == Kind.INTERACTION_KIND_STORE_VISIT:
            route = await tasks.route(conn, cid, fallback_store=it.store)
            planned = task_rules.follow_up_visit(it.name, occur, task_rules.zone(route.time_zone), self.config)
            channel = await tasks.last_inbound_channel(conn, cid)
            planned = PlannedTask(planned.rule, planned.trigger_key, planned.due_time, planned.title, channel)
            await self._open(conn, envelope, cid, planned, route, it.name)
        elif it.kind == Kind.INTERACTION_KIND_MESSAGE and it.direction == Direction.DIRECTION_INBOUND:
            if await tasks.answered_since(conn, cid, occur):
                return
            route = await tasks.route(conn, cid, fallback_store=it.store)
            planned = task_rules.reply_message(it.name, occur, it.channel, self.config)
            await self._open(conn, envelope, cid, planned, route, it.name)
        elif it.kind == Kind.INTERACTION_KIND_MESSAGE and it.direction == Direction.DIRECTION_OUTBOUND:
            answered = await tasks.answer_replies(conn, cid, occur, "answered")
            await self._emit(conn, answered)

    # -- who holds her --------------------------------------------------------

    async def _assignment(self, conn, envelope) -> None:
        event = unpack(envelope, aev.AssignmentChanged)
        if event.role != aev.ASSIGNMENT_ROLE_PRIMARY or not event.associate:
            return
        await tasks.follow_assignment(
            conn, parse_customer(event.customer), event.previous_associate, event.associate, event.store
        )

    async def _merged(self, conn, envelope) -> None:
        event = unpack(envelope, cev.CustomerMerged)
        survivor, duplicate = parse_customer(event.survivor), parse_customer(event.duplicate)
        await tasks.merge_customer(conn, duplicate, survivor)
        await interactions.repoint(conn, duplicate, survivor)

    async def _erased(self, conn, envelope) -> None:
        event = unpack(envelope, cev.CustomerErased)
        cid = parse_customer(event.customer)
        await tasks.erase_customer(conn, cid)
        await interactions.forget(conn, cid)

    # -- appointments ---------------------------------------------------------

    async def _appointment(self, conn, envelope) -> None:
        booking = appointment_fields(envelope)
        cid = parse_customer(booking.get("customer", ""))
        name = booking.get("name") or booking.get("appointment") or ""
        if not isinstance(name, str) or not name or not isinstance(booking.get("start_time"), str):
            raise PoisonEvent(f"booking {envelope.id} names no appointment or start time")
        start = datetime.fromisoformat(booking["start_time"].replace("Z", "+00:00"))
        route = await tasks.route(conn, cid, fallback_store=booking.get("store", ""))
        if booking.get("associate"):
            # The associate she booked with prepares, whoever holds her book.
            route = tasks.Route(bare(booking["associate"], "associates"), route.store_id, route.time_zone)
        planned = task_rules.appointment_preparation(
            name, start, _time(envelope.occurred_at), task_rules.zone(route.time_zone), self.config
        )
        if planned is not None:
            await self._open(conn, envelope, cid, planned, route, name)


_APPOINTMENT_MODULES = ("atelier.events.v1.appointments_events_pb2", "atelier.events.v1.appointment_events_pb2")


def appointment_fields(envelope: envelope_pb2.EventEnvelope) -> dict:
    """The booking as plain fields: name (or appointment), customer, associate, store,
    start_time (RFC 3339). The appointments contract is read by field name, from whichever
    message carries it (its own event type once generated, or a Struct), so this rule does
    not depend on that service's release."""
    payload = envelope.payload
    full_name = payload.type_url.rsplit("/", 1)[-1]
    if full_name == struct_pb2.Struct.DESCRIPTOR.full_name:
        message = struct_pb2.Struct()
    else:
        for module in _APPOINTMENT_MODULES:
            try:
                importlib.import_module(module)
            except ImportError:
                continue
        try:
            message = symbol_database.Default().GetSymbol(full_name)()
        except KeyError:
            raise PoisonEvent(f"unknown booking payload {full_name}") from None
    payload.Unpack(message)
    fields = json_format.MessageToDict(message, preserving_proto_field_name=True)
    nested = fields.get("appointment")
    if isinstance(nested, dict):
        fields = {**fields, **nested}
    return fields
