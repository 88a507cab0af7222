"""What a merge does to the survivor's own profile, and how that is undone; how likely
two customers are one person. Pure, no I/O.

A merge never overwrites the survivor: blank fields are filled from the duplicate and
lists (tags, preferences, important dates) gain the duplicate's items they lack. The
changes are recorded so that undoing the merge removes exactly what it added — and only
where the survivor still holds it, so later edits to the survivor are kept.
"""

from __future__ import annotations

from typing import Any

_SCALARS = ("given_name", "family_name", "preferred_name", "locale", "home_store")
_LISTS = ("tags", "preferences", "important_dates")

# How strongly each reason alone says "same person".
REASON_WEIGHTS = {1: 0.9, 2: 0.85, 3: 0.8, 4: 0.7}


def combine(survivor: dict[str, Any], duplicate: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(columns to write on the survivor, the changes to record for undo)."""
    values: dict[str, Any] = {}
    filled: dict[str, Any] = {}
    added: dict[str, list] = {}
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


def score(reason_kinds: list[int]) -> float:
    """Independent pieces of evidence add up: 1 - Π(1 - wᵢ)."""
    doubt = 1.0
    for kind in reason_kinds:
        doubt *= 1.0 - REASON_WEIGHTS.get(kind, 0.5)
    return round(1.0 - doubt, 4)
