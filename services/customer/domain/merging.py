"""What a merge does to the survivor's own profile, and how that is undone; when a merge can
be undone; how likely two customers are one person. Pure, no I/O.

A merge never overwrites the survivor: blank fields are filled from the duplicate and
lists (tags, preferences, important dates) gain the duplicate's items they lack. The
changes are recorded so that undoing the merge removes exactly what it added — and only
where the survivor still holds it, so later edits to the survivor are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from servicekit.errors import FailedPrecondition, Violations

_SCALARS = ("given_name", "family_name", "preferred_name", "locale", "home_store")
_LISTS = ("tags", "preferences", "important_dates")
# The survivor's own profile fields a merge may fill or extend.
PROFILE_FIELDS = (*_SCALARS, "tier", *_LISTS)

# How strongly each reason alone says "same person".
REASON_WEIGHTS = {1: 0.9, 2: 0.85, 3: 0.8, 4: 0.7}
DEFAULT_MIN_SCORE = 0.5


@dataclass(frozen=True)
class Pair:
    """Two customers the duplicate search found, with why (reason kinds and their details)."""

    x: str
    y: str
    x_older: bool
    reasons: Sequence[int]
    details: Sequence[str]


@dataclass(frozen=True)
class Candidate:
    """A likely duplicate: `customer` is the older of the two."""

    customer: str
    other: str
    score: float
    reasons: tuple[tuple[int, str], ...]


def check_distinct(survivor: str, duplicate: str, violations: Violations) -> None:
    """Two customers are merged, not one into herself (ids; "" when unreadable)."""
    if survivor and duplicate and survivor == duplicate:
        violations.add("duplicate", "a customer cannot be merged into herself")


def combine(survivor: dict[str, Any], duplicate: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(columns to write on the survivor, the changes to record for undo)."""
    values: dict[str, Any] = {}
    filled: dict[str, Any] = {}
    added: dict[str, list[Any]] = {}
    for name in _SCALARS:
        if not survivor[name] and duplicate[name]:
            values[name] = filled[name] = duplicate[name]
    if not survivor["tier"] and duplicate["tier"]:
        values["tier"] = filled["tier"] = duplicate["tier"]
    for name in _LISTS:
        extra = [item for item in duplicate[name] if item not in survivor[name]]
        if extra:
            values[name] = list(survivor[name]) + extra
            added[name] = extra
    return values, {"filled": filled, "added": added}


def revert(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Columns to write on the survivor to take back what the merge gave her."""
    values: dict[str, Any] = {}
    for name, value in changes.get("filled", {}).items():
        if current[name] == value:
            values[name] = 0 if name == "tier" else ""
    for name, extra in changes.get("added", {}).items():
        kept = [item for item in current[name] if item not in extra]
        if kept != current[name]:
            values[name] = kept
    return values


def rank(pairs: Iterable[Pair], min_score: float, limit: int) -> list[Candidate]:
    """The `limit` best candidates scoring at least `min_score`, best first."""
    found = []
    for pair in pairs:
        kinds = list(pair.reasons)
        likelihood = score(sorted(set(kinds)))
        if likelihood < min_score:
            continue
        older, younger = (pair.x, pair.y) if pair.x_older else (pair.y, pair.x)
        found.append(Candidate(older, younger, likelihood, tuple(zip(kinds, pair.details, strict=False))))
    found.sort(key=lambda c: (-c.score, c.customer, c.other))
    return found[:limit]


@dataclass(frozen=True)
class UndoFacts:
    """What decides whether a merge can still be undone."""

    undo_time: datetime | None
    erased: bool
    later_merge: str | None
    survivor_exists: bool


def check_undo(merge: str, survivor: str, facts: UndoFacts) -> None:
    """A merge is undone once, never after an erasure of either customer, only when no later
    merge involves them and while the survivor still exists."""
    if facts.undo_time is not None:
        raise FailedPrecondition(
            f"{merge} was already undone", reason="MERGE_ALREADY_UNDONE", metadata={"merge": merge}
        )
    if facts.erased:
        raise FailedPrecondition(
            f"{merge} involves an erased customer and can no longer be undone",
            reason="CUSTOMER_ERASED",
            metadata={"merge": merge},
        )
    if facts.later_merge is not None:
        later = f"merges/{facts.later_merge}"
        raise FailedPrecondition(
            f"{later} came later and involves the same customers; undo it first",
            reason="LATER_MERGE_DEPENDS",
            metadata={"merge": merge, "later_merge": later},
        )
    if not facts.survivor_exists:
        raise FailedPrecondition(f"{survivor} no longer exists", reason="SURVIVOR_GONE", metadata={"merge": merge})


def score(reason_kinds: list[int]) -> float:
    """Independent pieces of evidence add up: 1 - Π(1 - wᵢ)."""
    doubt = 1.0
    for kind in reason_kinds:
        doubt *= 1.0 - REASON_WEIGHTS.get(kind, 0.5)
    return round(1.0 - doubt, 4)
