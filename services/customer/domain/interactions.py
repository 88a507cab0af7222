"""What makes an interaction acceptable, without I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from atelier.common.v1 import common_pb2
from atelier.customer.v1 import interaction_pb2
from servicekit.errors import Violations

from .purchases import CLOCK_SKEW

Kind = interaction_pb2.InteractionKind
Direction = interaction_pb2.Direction

_STORE = re.compile(r"^stores/[a-z0-9][a-z0-9-]{0,62}$")
_ASSOCIATE = re.compile(r"^associates/[a-z0-9][a-z0-9-]{0,62}$")
_REFERRAL = re.compile(r"^[A-Za-z0-9-]{4,32}$")
MAX_PREVIEW = 1000
MAX_REFERENCE = 2000
MAX_EXTERNAL_ID = 200
# Kinds that are messages travelling on a channel in one direction.
_NEEDS_CHANNEL = {Kind.INTERACTION_KIND_MESSAGE, Kind.INTERACTION_KIND_CALL}


@dataclass(frozen=True)
class NewInteraction:
    kind: int
    channel: int
    direction: int
    preview: str
    store: str
    associate: str
    referral_code: str
    reference: str
    external_id: str | None
    occur_time: datetime


def read(msg: interaction_pb2.Interaction, prefix: str, violations: Violations, now: datetime) -> NewInteraction:
    at = lambda f: f"{prefix}{f}"  # noqa: E731 - tiny formatter for field paths
    kind = msg.kind
    if kind == 0 or kind not in Kind.values():
        violations.add(at("kind"), "required: an InteractionKind")
    if msg.channel not in common_pb2.Channel.values():
        violations.add(at("channel"), "unknown channel")
    elif kind in _NEEDS_CHANNEL and msg.channel == 0:
        violations.add(at("channel"), "required for a message or a call")
    if msg.direction not in Direction.values():
        violations.add(at("direction"), "unknown direction")
    elif kind in _NEEDS_CHANNEL and msg.direction == 0:
        violations.add(at("direction"), "required for a message or a call: INBOUND or OUTBOUND")
    preview = msg.preview.strip()
    violations.require(len(preview) <= MAX_PREVIEW, at("preview"), f"at most {MAX_PREVIEW} characters")
    if msg.store:
        violations.require(bool(_STORE.match(msg.store)), at("store"), "a store name such as stores/paris-faubourg")
    if msg.associate:
        violations.require(
            bool(_ASSOCIATE.match(msg.associate)), at("associate"), "an associate name such as associates/a-123"
        )
    if msg.referral_code:
        violations.require(bool(_REFERRAL.match(msg.referral_code)), at("referral_code"), "4-32 letters, digits or -")
    elif kind == Kind.INTERACTION_KIND_QR_SCAN:
        violations.add(at("referral_code"), "required for a QR-code scan: the code on the associate's card")
    violations.require(len(msg.reference) <= MAX_REFERENCE, at("reference"), f"at most {MAX_REFERENCE} characters")
    external_id = msg.external_id.strip()
    violations.require(
        len(external_id) <= MAX_EXTERNAL_ID, at("external_id"), f"at most {MAX_EXTERNAL_ID} characters"
    )
    occur_time = now
    if not msg.HasField("occur_time"):
        violations.add(at("occur_time"), "required: when it happened")
    else:
        occur_time = msg.occur_time.ToDatetime(tzinfo=timezone.utc)
        violations.require(occur_time <= now + CLOCK_SKEW, at("occur_time"), "must not be in the future")
    return NewInteraction(
        kind=int(kind), channel=int(msg.channel), direction=int(msg.direction), preview=preview,
        store=msg.store, associate=msg.associate, referral_code=msg.referral_code, reference=msg.reference,
        external_id=external_id or None, occur_time=occur_time,
    )
