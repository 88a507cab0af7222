"""What makes an interaction (a touchpoint of the timeline) acceptable, without I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from servicekit.errors import Violations
from servicekit.vocabulary import Direction, InteractionKind

from . import replays
from .channels import CHANNELS
from .purchases import CLOCK_SKEW

KINDS = frozenset(int(k) for k in InteractionKind)
_DIRECTIONS = frozenset(int(d) for d in Direction)
_STORE = re.compile(r"^stores/[a-z0-9][a-z0-9-]{0,62}$")
_ASSOCIATE = re.compile(r"^associates/[a-z0-9][a-z0-9-]{0,62}$")
_REFERRAL = re.compile(r"^[A-Za-z0-9-]{4,32}$")
MAX_PREVIEW = 1000
MAX_REFERENCE = 2000
MAX_EXTERNAL_ID = 200
# Kinds that are messages travelling on a channel in one direction.
_NEEDS_CHANNEL = {InteractionKind.MESSAGE, InteractionKind.CALL}


@dataclass(frozen=True, slots=True)
class InteractionInput:
    """An interaction as a request spells it (`occur_time` None when the request has none)."""

    kind: int = 0
    channel: int = 0
    direction: int = 0
    preview: str = ""
    store: str = ""
    associate: str = ""
    referral_code: str = ""
    reference: str = ""
    external_id: str = ""
    occur_time: datetime | None = None


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


def is_known_kind(kind: int) -> bool:
    """An InteractionKind this API defines, UNSPECIFIED excluded."""
    return kind != InteractionKind.UNSPECIFIED and kind in KINDS


def read(given: InteractionInput, prefix: str, violations: Violations, now: datetime) -> NewInteraction:
    def at(name: str) -> str:
        return f"{prefix}{name}"

    kind = given.kind
    if not is_known_kind(kind):
        violations.add(at("kind"), "required: an InteractionKind")
    if given.channel not in CHANNELS:
        violations.add(at("channel"), "unknown channel")
    elif kind in _NEEDS_CHANNEL and given.channel == 0:
        violations.add(at("channel"), "required for a message or a call")
    if given.direction not in _DIRECTIONS:
        violations.add(at("direction"), "unknown direction")
    elif kind in _NEEDS_CHANNEL and given.direction == 0:
        violations.add(at("direction"), "required for a message or a call: INBOUND or OUTBOUND")
    preview = given.preview.strip()
    violations.require(len(preview) <= MAX_PREVIEW, at("preview"), f"at most {MAX_PREVIEW} characters")
    if given.store:
        violations.require(bool(_STORE.match(given.store)), at("store"), "a store name such as stores/paris-faubourg")
    if given.associate:
        violations.require(
            bool(_ASSOCIATE.match(given.associate)), at("associate"), "an associate name such as associates/a-123"
        )
    if given.referral_code:
        violations.require(bool(_REFERRAL.match(given.referral_code)), at("referral_code"), "4-32 letters, digits or -")
    elif kind == InteractionKind.QR_SCAN:
        violations.add(at("referral_code"), "required for a QR-code scan: the code on the associate's card")
    violations.require(len(given.reference) <= MAX_REFERENCE, at("reference"), f"at most {MAX_REFERENCE} characters")
    external_id = given.external_id.strip()
    violations.require(len(external_id) <= MAX_EXTERNAL_ID, at("external_id"), f"at most {MAX_EXTERNAL_ID} characters")
    occur_time = now
    if given.occur_time is None:
        violations.add(at("occur_time"), "required: when it happened")
    else:
        occur_time = given.occur_time
        violations.require(occur_time <= now + CLOCK_SKEW, at("occur_time"), "must not be in the future")
    return NewInteraction(
        kind=int(kind),
        channel=int(given.channel),
        direction=int(given.direction),
        preview=preview,
        store=given.store,
        associate=given.associate,
        referral_code=given.referral_code,
        reference=given.reference,
        external_id=external_id or None,
        occur_time=occur_time,
    )


def fingerprint(new: NewInteraction) -> str:
    """What a replay of the touchpoint (same external id, kind and channel, for the same
    customer) must repeat: every field the request gave (domain/replays)."""
    return replays.fingerprint(new)


def check_replay(stored: str | None, given: str) -> None:
    """The external id was already recorded for her: a replay must be the same request."""
    replays.check_replay(
        stored, given, field="interaction.external_id", reason=replays.EXTERNAL_ID_REUSED, what="this external id"
    )
