"""Who holds a customer (her primary associate and any secondary ones), as the associate
service's assignment_changed events say. Pure, no I/O: the steps one event takes.

* A new primary replaces the old one, and any other holding of the same associate.
* A new secondary replaces the previous secondary named by the event.
* A change to nobody only ends the named previous holding, so an associate holding a
  customer provisionally (she created her) keeps her until someone is named.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Role(IntEnum):
    """atelier.events.v1.AssignmentRole, same numbers."""

    UNSPECIFIED = 0
    PRIMARY = 1
    SECONDARY = 2


@dataclass(frozen=True)
class Change:
    """One assignment_changed event: ids without their collection prefix, "" for nobody."""

    customer_id: str
    role: Role
    previous: str
    associate: str


@dataclass(frozen=True)
class Hold:
    """`associate` holds the customer in `role` (whatever role she held her in before)."""

    associate: str
    role: Role


@dataclass(frozen=True)
class Release:
    """End holdings of the customer: `associate`'s (None: anyone's) in `role` (None: any role)."""

    associate: str | None
    role: Role | None


def steps(change: Change) -> list[Hold | Release]:
    """The holdings to end and to start, in order, for one event."""
    if not change.associate:
        return [Release(change.previous, change.role)] if change.previous else []
    if change.role is Role.PRIMARY:
        return [Release(None, Role.PRIMARY), Release(change.associate, None), Hold(change.associate, Role.PRIMARY)]
    out: list[Hold | Release] = [Hold(change.associate, change.role)]
    if change.role is Role.SECONDARY and change.previous and change.previous != change.associate:
        out.append(Release(change.previous, Role.SECONDARY))
    return out
