"""The facts that open, move and close tasks (customer, assignment and appointment
events), in the unit of work of the event (servicekit.inbox), so a redelivered event is
skipped; a replayed fact with a new event id finds its task already there (unique
(rule, customer, trigger)) and opens nothing. Times come from the facts and the envelope,
never the wall clock, so applying the same event twice plans the same task.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from servicekit import names
from servicekit.uow import UnitOfWork
from servicekit.vocabulary import InteractionKind

from ..domain import tasks as planning
from ..domain.interactions import Interaction
from ..domain.names import bare
from ..domain.tasks import PlannedTask, Route, TaskRuleConfig
from ..messages import events
from ..messages import tasks as messages
from ..storage import interactions, tasks
from ..storage.tasks import TaskRow
from . import task_routes


async def _open(
    uow: UnitOfWork, event_id: str, customer_id: str, planned: PlannedTask, route: Route, resource: str
) -> None:
    row = await tasks.insert(uow.conn, names.new_id(), customer_id, planned, route, event_id, resource)
    if row is not None:
        uow.emit(events.task_changed(messages.task(row), uow.caller.subject, created=True))


def _updated(uow: UnitOfWork, rows: Sequence[TaskRow]) -> None:
    uow.emit(*(events.task_changed(messages.task(r), uow.caller.subject, created=False) for r in rows))


async def _suggesting_her_channel(uow: UnitOfWork, customer_id: str, planned: PlannedTask) -> PlannedTask:
    """Follow-ups suggest the channel she last wrote on."""
    return dataclasses.replace(planned, channel=await tasks.last_inbound_channel(uow.conn, customer_id))


async def purchase_recorded(
    uow: UnitOfWork,
    event_id: str,
    customer_id: str,
    purchase: str,
    order_time: datetime,
    home_store: str,
    store: str,
    config: TaskRuleConfig,
) -> None:
    route = await task_routes.route(uow.conn, customer_id, home_store, store)
    planned = planning.follow_up_purchase(purchase, order_time, planning.zone(route.time_zone), config)
    planned = await _suggesting_her_channel(uow, customer_id, planned)
    await _open(uow, event_id, customer_id, planned, route, purchase)


async def interaction_recorded(uow: UnitOfWork, event_id: str, it: Interaction, config: TaskRuleConfig) -> None:
    """Logged; a store visit plans its follow-up, an inbound message a reply (unless
    already answered), an outbound message closes the replies it answers."""
    conn = uow.conn
    cid = it.customer_id
    await interactions.record(conn, it)
    if it.kind == InteractionKind.STORE_VISIT:
        route = await task_routes.route(conn, cid, fallback_store=it.store)
        planned = planning.follow_up_visit(it.name, it.occur_time, planning.zone(route.time_zone), config)
        planned = await _suggesting_her_channel(uow, cid, planned)
        await _open(uow, event_id, cid, planned, route, it.name)
    elif it.inbound_message:
        if await tasks.answered_since(conn, cid, it.occur_time):
            return
        route = await task_routes.route(conn, cid, fallback_store=it.store)
        planned = planning.reply_message(it.name, it.occur_time, it.channel, config)
        await _open(uow, event_id, cid, planned, route, it.name)
    elif it.outbound_message:
        _updated(uow, await tasks.answer_replies(conn, cid, it.occur_time, "answered"))


async def scan_elsewhere(
    uow: UnitOfWork,
    event_id: str,
    customer_id: str,
    scan: str,
    when: datetime,
    review_store: str,
    scanned: str,
    scanned_store: str,
    config: TaskRuleConfig,
) -> None:
    """A task in the queue of `review_store` (`stores/{id}`): she scanned the card of
    another store's associate, who did not get her (domain.assignment.after_scan)."""
    store = bare(review_store, "stores")
    facts = await tasks.route_facts(uow.conn, customer_id, [store])
    queue = Route("", store, facts.time_zones.get(store, ""))
    planned = planning.scan_elsewhere(scan, scanned, scanned_store, when, planning.zone(queue.time_zone), config)
    await _open(uow, event_id, customer_id, planned, queue, scan)


async def primary_changed(uow: UnitOfWork, customer_id: str, previous: str, associate: str, store: str) -> None:
    """Her new primary associate takes over her open tasks (names, not bare ids)."""
    await tasks.follow_assignment(uow.conn, customer_id, previous, associate, store)


async def customers_merged(uow: UnitOfWork, survivor: str, duplicate: str) -> None:
    await tasks.merge_customer(uow.conn, duplicate, survivor)
    await interactions.repoint(uow.conn, duplicate, survivor)


async def customer_erased(uow: UnitOfWork, customer_id: str) -> None:
    await tasks.erase_customer(uow.conn, customer_id)
    await interactions.forget(uow.conn, customer_id)


async def appointment_booked(
    uow: UnitOfWork,
    event_id: str,
    customer_id: str,
    appointment: str,
    start: datetime,
    booked: datetime,
    store: str,
    associate: str,
    config: TaskRuleConfig,
) -> None:
    """The associate she booked with prepares, whoever holds her book."""
    route = await task_routes.route(uow.conn, customer_id, fallback_store=store)
    if associate:
        route = Route(bare(associate, "associates"), route.store_id, route.time_zone)
    planned = planning.appointment_preparation(appointment, start, booked, planning.zone(route.time_zone), config)
    if planned is not None:
        await _open(uow, event_id, customer_id, planned, route, appointment)
