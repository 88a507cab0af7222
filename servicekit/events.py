"""Domain events: the envelope, subjects, the JetStream connection and stream provisioning."""

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
from servicekit import telemetry

log = logging.getLogger("atelier.events")

# The relay retries an unacknowledged row within seconds; a re-publish after a crash
# between "acked" and "marked sent" happens on restart. One hour of dedupe covers both
# with a wide margin (NATS keeps the ids of that window in memory).
DUPLICATE_WINDOW_SECONDS = 3600
MAX_AGE_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class EventBus:
    """Where events go. The prefix and stream are configurable so that several
    installations (or test runs) can share one NATS server without overlapping."""

    prefix: str = "atelier"
    stream: str = "ATELIER"

    def subject(self, event_type: str) -> str:
        """`atelier.customer.created` → `<prefix>.customer.created`."""
        area_event = event_type.split(".", 1)[1] if event_type.startswith("atelier.") else event_type
        return f"{self.prefix}.{area_event}"

    def event_type(self, subject: str) -> str:
        return "atelier." + subject[len(self.prefix) + 1 :]

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
