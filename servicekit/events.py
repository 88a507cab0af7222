"""Domain events: the envelope, subjects, the JetStream connection and stream provisioning.

Subjects. An event about one customer is published on a subject that names her,
`<prefix>.<area>.<event>.customers.<id>` (e.g. `atelier.customer.created.customers.c-1`);
any other event on `<prefix>.<area>.<event>`. Consumers filter `<prefix>.<area>.>` or
`<prefix>.>`, which match both. Erasure purges `<prefix>.*.*.customers.<id>` from the
stream (servicekit.outbox), so no copy of her personal data stays readable there. An event
is about a customer when its envelope's subject is her resource name (or one of her child
resources), or, for events about another resource (a task, an attribution), when its
payload's `customer` field names her. `customer.erased` is the exception: it names her but
is published without her tokens, so that it outlives the purge for consumers that have not
read it yet (it carries her id only).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import nats
from google.protobuf import any_pb2, timestamp_pb2
from google.protobuf.message import Message
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from atelier.events.v1 import envelope_pb2
from servicekit import event_types, names, telemetry

log = logging.getLogger("atelier.events")

# The relay retries an unacknowledged row within seconds; a re-publish after a crash
# between "acked" and "marked sent" happens on restart. One hour of dedupe covers both
# with a wide margin (NATS keeps the ids of that window in memory).
DUPLICATE_WINDOW_SECONDS = 3600
MAX_AGE_SECONDS = 14 * 24 * 3600

CUSTOMERS = "customers"
# Events that must outlive the purge of the customer they name (published without her tokens).
NEVER_PURGED = frozenset({event_types.CUSTOMER_ERASED})


def customer_of(name: str) -> str:
    """`customers/{id}` for a customer's resource name or one of her child resources
    (`customers/{id}/purchases/{p}`); '' for anything else. Ids follow names.ID_PATTERN,
    so the id is always one valid NATS subject token."""
    parts = name.split("/", 2)
    if len(parts) >= 2 and parts[0] == CUSTOMERS and names.ID_PATTERN.fullmatch(parts[1]):
        return f"{CUSTOMERS}/{parts[1]}"
    return ""


def concerned_customer(envelope: envelope_pb2.EventEnvelope) -> str:
    """The customer (`customers/{id}`) an event is about, '' when it is about none or must
    outlive her purge (module docstring)."""
    if envelope.type in NEVER_PURGED:
        return ""
    customer = customer_of(envelope.subject)
    if customer:
        return customer
    payload_type = event_types.PAYLOADS.get(envelope.type)
    field = payload_type.DESCRIPTOR.fields_by_name.get("customer") if payload_type is not None else None
    if payload_type is None or field is None or field.type != field.TYPE_STRING:
        return ""
    payload = payload_type()
    if not envelope.payload.Unpack(payload):
        return ""
    return customer_of(str(getattr(payload, field.name)))


@dataclass(frozen=True)
class EventBus:
    """Where events go. The prefix and stream are configurable so that several
    installations (or test runs) can share one NATS server without overlapping."""

    prefix: str = "atelier"
    stream: str = "ATELIER"

    def subject(self, event_type: str, customer: str = "") -> str:
        """`atelier.customer.created` → `<prefix>.customer.created`; with the customer the
        event is about (`customers/c-1`, see concerned_customer) →
        `<prefix>.customer.created.customers.c-1`."""
        area_event = event_type.split(".", 1)[1] if event_type.startswith("atelier.") else event_type
        if not customer:
            return f"{self.prefix}.{area_event}"
        return f"{self.prefix}.{area_event}.{self._tokens(customer)}"

    def customer_subjects(self, customer: str) -> str:
        """Every subject of events about her, whatever the area and event: what her
        erasure purges (`<prefix>.*.*.customers.<id>`)."""
        return f"{self.prefix}.*.*.{self._tokens(customer)}"

    def event_type(self, subject: str) -> str:
        """The event type a subject carries, with or without a customer's tokens."""
        area, event = subject[len(self.prefix) + 1 :].split(".")[:2]
        return f"atelier.{area}.{event}"

    @staticmethod
    def _tokens(customer: str) -> str:
        if customer_of(customer) != customer:
            raise ValueError(f"not a customer name: {customer!r}")
        return customer.replace("/", ".")

    @property
    def barrier_subject(self) -> str:
        """Where the relay sends the publishes the stream always refuses (outbox._settle)."""
        return f"{self.prefix}.outbox.barrier"

    @property
    def all_subjects(self) -> str:
        return f"{self.prefix}.>"


def new_envelope(
    *, event_type: str, source: str, subject: str, payload: Message, actor: str
) -> envelope_pb2.EventEnvelope:
    packed = any_pb2.Any()
    packed.Pack(payload)
    occurred = timestamp_pb2.Timestamp()
    occurred.GetCurrentTime()
    envelope = envelope_pb2.EventEnvelope(
        id=str(uuid.uuid4()),
        type=event_type,
        source=source,
        subject=subject,
        payload=packed,
        actor=actor,
    )
    envelope.occurred_at.CopyFrom(occurred)
    telemetry.inject_context(envelope.trace_context)
    return envelope


def unpack(envelope: envelope_pb2.EventEnvelope, message_type: type[Message]) -> Message:
    payload = message_type()
    if not envelope.payload.Unpack(payload):
        raise ValueError(f"event {envelope.id} does not carry a {message_type.DESCRIPTOR.full_name}")
    return payload


async def connect(url: str, name: str) -> NATS:
    """A connection that keeps reconnecting; callers watch `is_connected` for health."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats error: %s", exc)

    return await nats.connect(
        servers=[url],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        error_cb=on_error,
    )


async def ensure_stream(js: JetStreamContext, bus: EventBus) -> None:
    """Create the stream holding every Atelier event, or bring its config up to date.
    Works on NATS 2.9 and later (no features newer than 2.9 are used)."""
    config = StreamConfig(
        name=bus.stream,
        subjects=[bus.all_subjects],
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        max_age=MAX_AGE_SECONDS,
    )
    try:
        await js.stream_info(bus.stream)
    except NotFoundError:
        await js.add_stream(config)
        log.info("created stream %s for %s", bus.stream, bus.all_subjects)
        return
    await js.update_stream(config)
