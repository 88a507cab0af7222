"""Reading customer events: their payloads, the customers they name, their times and
interactions, as plain values for the use cases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar, cast

from google.protobuf import timestamp_pb2
from google.protobuf.message import Message

from atelier.events.v1 import customer_events_pb2 as cev
from atelier.events.v1 import envelope_pb2
from servicekit import names
from servicekit.errors import InvalidArgument
from servicekit.events import unpack
from servicekit.inbox import PoisonEvent

from ..domain.interactions import Interaction

M = TypeVar("M", bound=Message)


def payload(envelope: envelope_pb2.EventEnvelope, kind: type[M]) -> M:
    """The envelope's payload as `kind` (servicekit.events.unpack, typed)."""
    return cast(M, unpack(envelope, kind))


def customer_id_of(name: str, collection: str = "customers") -> str:
    """The id in `customers/{id}`; an event naming anything else can never be applied."""
    prefix = collection + "/"
    if not name.startswith(prefix) or len(name) == len(prefix):
        raise PoisonEvent(f"not a {collection} name: {name!r}")
    return name[len(prefix) :]


def parse_customer(name: str) -> str:
    """The id of a well-formed `customers/{id}` (AIP-122 id pattern); poison otherwise."""
    try:
        return names.parse(name, "customers", "customer")
    except InvalidArgument:
        raise PoisonEvent(f"not a customer name: {name!r}") from None


def time(ts: timestamp_pb2.Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def interaction(event: cev.InteractionRecorded) -> Interaction:
    it = event.interaction
    customer_id = parse_customer(event.customer)
    return Interaction(
        it.name, customer_id, it.kind, it.direction, it.channel, it.store, it.associate, time(it.occur_time)
    )
