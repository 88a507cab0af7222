"""Consent: a customer's yes or no for one channel × purpose, kept as a history.

The rule, in one place (storage and campaigns follow it):

* An answer is captured with where it was given (`source`) and by whom; every capture is
  kept, as evidence, even when it repeats the previous one.
* Her consent for a channel × purpose is her latest answer for it. With no answer at all
  she has not consented: consent is opt-in (`GRANTED_WHEN_UNANSWERED`).
* The consent_changed event is published only when the answer changed; a first answer,
  yes or no, is a change.
* An audience that needs a consent (a segment's `consent` requirement) holds the
  customers whose current answer for that channel × purpose is a yes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from servicekit.errors import Violations

from . import channels

MAX_SOURCE = 64
# What a channel × purpose she was never asked about counts as.
GRANTED_WHEN_UNANSWERED = False


class Purpose(IntEnum):
    """What a message is for (atelier.common.v1.Purpose, same numbers)."""

    UNSPECIFIED = 0
    MARKETING = 1
    SERVICE = 2
    PROFILING = 3


PURPOSES = frozenset(int(p) for p in Purpose)


@dataclass(frozen=True, slots=True)
class Choice:
    """An answer to record: yes (granted) or no for one channel × purpose."""

    channel: int
    purpose: int
    granted: bool
    source: str


@dataclass(frozen=True, slots=True)
class Answer:
    """A recorded answer: her current consent for a channel × purpose, or one step of its history."""

    channel: int
    purpose: int
    granted: bool
    source: str
    actor: str
    change_time: datetime


@dataclass(frozen=True, slots=True)
class Requirement:
    """A consent an audience needs: a yes for this channel × purpose."""

    channel: int
    purpose: int


def _check_pair(channel: int, purpose: int, prefix: str, violations: Violations, *, what: str) -> None:
    violations.require(
        channel != channels.Channel.UNSPECIFIED and channel in channels.CHANNELS, f"{prefix}channel", f"{what}a channel"
    )
    violations.require(purpose != Purpose.UNSPECIFIED and purpose in PURPOSES, f"{prefix}purpose", f"{what}a purpose")


def read_choice(channel: int, purpose: int, granted: bool, source: str, violations: Violations) -> Choice:
    """The answer a GrantConsent / WithdrawConsent request records; every bad field collected."""
    _check_pair(channel, purpose, "", violations, what="required: ")
    source = source.strip()
    violations.require(
        0 < len(source) <= MAX_SOURCE,
        "source",
        f"required: where the answer was captured, at most {MAX_SOURCE} characters",
    )
    return Choice(channel, purpose, granted, source)


def read_requirement(channel: int, purpose: int, prefix: str, violations: Violations) -> Requirement:
    """The consent a segment requires (`prefix` is e.g. "segment.consent.")."""
    _check_pair(channel, purpose, prefix, violations, what="")
    return Requirement(channel, purpose)


def answer_for(current: list[Answer], channel: int, purpose: int) -> bool | None:
    """Her current answer for a channel × purpose; None when she never gave one."""
    return next((a.granted for a in current if a.channel == channel and a.purpose == purpose), None)


def is_granted(answer: bool | None) -> bool:
    """Whether an answer (None: never asked) counts as consent."""
    return GRANTED_WHEN_UNANSWERED if answer is None else answer


def changes(before: bool | None, granted: bool) -> bool:
    """Whether recording `granted` over the answer `before` changes her consent (and so is
    published as consent_changed)."""
    return before is not granted


def meets(requirement: Requirement, current: list[Answer]) -> bool:
    """Whether a customer with these current answers belongs to an audience needing `requirement`."""
    return is_granted(answer_for(current, requirement.channel, requirement.purpose))
