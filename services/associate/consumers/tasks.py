"""The `tasks` consumer: customer, assignment and appointment facts open, move and close
tasks (usecases.task_triggers) and plan greetings (usecases.greetings)."""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any

from google.protobuf import json_format, struct_pb2, symbol_database
from google.protobuf.message import Message

from atelier.customer.v1 import customer_pb2
from atelier.events.v1 import associate_events_pb2 as aev
from atelier.events.v1 import customer_events_pb2 as cev
from atelier.events.v1 import envelope_pb2
from servicekit import event_types
from servicekit.inbox import PoisonEvent
from servicekit.uow import UnitOfWork

from ..domain.tasks import ImportantDate, TaskRuleConfig
from ..usecases import greetings, privacy, task_triggers
from .payloads import interaction, parse_customer, payload, time

EVENT_TYPES = (
    event_types.CUSTOMER_CREATED,
    event_types.CUSTOMER_UPDATED,
    event_types.PURCHASE_RECORDED,
    event_types.INTERACTION_RECORDED,
    event_types.CUSTOMER_MERGED,
    event_types.CUSTOMER_ERASED,
    event_types.ASSIGNMENT_CHANGED,
    event_types.APPOINTMENT_BOOKED,
)


async def handle(uow: UnitOfWork, envelope: envelope_pb2.EventEnvelope, *, config: TaskRuleConfig) -> None:
    """`config`: the task rules' settings (app.py binds them)."""
    kind = envelope.type
    if kind == event_types.CUSTOMER_CREATED:
        await _dates(uow, envelope, payload(envelope, cev.CustomerCreated).customer, config)
    elif kind == event_types.CUSTOMER_UPDATED:
        await _dates(uow, envelope, payload(envelope, cev.CustomerUpdated).customer, config)
    elif kind == event_types.PURCHASE_RECORDED:
        recorded = payload(envelope, cev.PurchaseRecorded)
        purchase = recorded.purchase
        await task_triggers.purchase_recorded(
            uow,
            envelope.id,
            parse_customer(recorded.customer),
            purchase.name,
            time(purchase.order_time),
            recorded.home_store,
            purchase.store,
            config,
        )
    elif kind == event_types.INTERACTION_RECORDED:
        it = interaction(payload(envelope, cev.InteractionRecorded))
        await task_triggers.interaction_recorded(uow, envelope.id, it, config)
    elif kind == event_types.ASSIGNMENT_CHANGED:
        changed = payload(envelope, aev.AssignmentChanged)
        if changed.role == aev.ASSIGNMENT_ROLE_PRIMARY and changed.associate:
            await task_triggers.primary_changed(
                uow, parse_customer(changed.customer), changed.previous_associate, changed.associate, changed.store
            )
    elif kind == event_types.CUSTOMER_MERGED:
        merged = payload(envelope, cev.CustomerMerged)
        survivor, duplicate = parse_customer(merged.survivor), parse_customer(merged.duplicate)
        await task_triggers.customers_merged(uow, survivor, duplicate)
    elif kind == event_types.CUSTOMER_ERASED:
        await privacy.tasks_erased(uow, parse_customer(payload(envelope, cev.CustomerErased).customer))
    elif kind == event_types.APPOINTMENT_BOOKED:
        await _booked(uow, envelope, config)


async def _dates(
    uow: UnitOfWork, envelope: envelope_pb2.EventEnvelope, customer: customer_pb2.Customer, config: TaskRuleConfig
) -> None:
    dates = [ImportantDate(d.kind, d.date.month, d.date.day) for d in customer.important_dates]
    await greetings.dates_changed(
        uow, parse_customer(customer.name), customer.home_store, dates, time(envelope.occurred_at), envelope.id, config
    )


async def _booked(uow: UnitOfWork, envelope: envelope_pb2.EventEnvelope, config: TaskRuleConfig) -> None:
    booking = appointment_fields(envelope)
    customer_id = parse_customer(str(booking.get("customer", "")))
    name = booking.get("name") or booking.get("appointment") or ""
    start = booking.get("start_time")
    if not isinstance(name, str) or not name or not isinstance(start, str):
        raise PoisonEvent(f"booking {envelope.id} names no appointment or start time")
    await task_triggers.appointment_booked(
        uow,
        envelope.id,
        customer_id,
        name,
        datetime.fromisoformat(start.replace("Z", "+00:00")),
        time(envelope.occurred_at),
        str(booking.get("store", "")),
        str(booking.get("associate", "")),
        config,
    )


_APPOINTMENT_MODULES = ("atelier.events.v1.appointments_events_pb2", "atelier.events.v1.appointment_events_pb2")


def appointment_fields(envelope: envelope_pb2.EventEnvelope) -> dict[str, Any]:
    """The booking as plain fields: name (or appointment), customer, associate, store,
    start_time (RFC 3339). The appointments contract is read by field name, from whichever
    message carries it (its own event type once generated, or a Struct), so this rule does
    not depend on that service's release."""
    packed = envelope.payload
    full_name = packed.type_url.rsplit("/", 1)[-1]
    message: Message
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
    packed.Unpack(message)
    fields = json_format.MessageToDict(message, preserving_proto_field_name=True)
    nested = fields.get("appointment")
    if isinstance(nested, dict):
        fields = {**fields, **nested}
    return fields
