"""Who hosts a visit: the associate named, or her own associate, or a qualified
associate of the store chosen fairly. Only associates free at that time are ever
candidates (availability decides that first), so a fair choice never lands on someone
busy, on leave or away.

Fair means: the fewest bookings on that local day, then the one given a store-chosen
booking longest ago (never before: first), then the associate id, so the choice is the
same on every replica and spreads the day's visits across the team.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from servicekit.errors import FailedPrecondition

from .appointment_types import AppointmentType

_NEVER = datetime.min.replace(tzinfo=UTC)


class HostChoice(StrEnum):
    # The request named her.
    REQUESTED = "requested"
    # The customer's own (primary) associate.
    OWN_ASSOCIATE = "own_associate"
    # A qualified associate of the store, by load.
    STORE = "store"
    # Her host left; the booking moved to the associate who holds her now.
    REASSIGNED = "reassigned"


@dataclass(frozen=True)
class Host:
    """What qualifies an associate to host visits in her store."""

    associate_id: str
    store_id: str
    specialities: frozenset[str]
    # Active staff only (not on leave, not departed).
    active: bool = True


@dataclass(frozen=True)
class Load:
    """How busy an associate is, for a fair choice."""

    # Her active bookings on the local day of the visit.
    bookings: int = 0
    # When she last received a booking the store chose for her.
    last_chosen: datetime | None = None


@dataclass(frozen=True)
class Pick:
    associate_id: str
    choice: HostChoice


class AssociateNotFree(FailedPrecondition):
    reason = "ASSOCIATE_NOT_FREE"

    def __init__(self, associate_id: str):
        super().__init__(
            f"associates/{associate_id} is not free then; list the available slots again",
            metadata={"associate": f"associates/{associate_id}"},
        )


class NoHostAvailable(FailedPrecondition):
    reason = "NO_HOST_AVAILABLE"

    def __init__(self) -> None:
        super().__init__("no qualified associate of the store is free then; list the available slots again")


def fair_order(free: Collection[str], loads: Mapping[str, Load]) -> list[str]:
    """The free associates, the one a fair choice takes first."""

    def key(associate_id: str) -> tuple[int, datetime, str]:
        load = loads.get(associate_id, Load())
        return (load.bookings, load.last_chosen or _NEVER, associate_id)

    return sorted(free, key=key)


def choose(
    free: Collection[str],
    loads: Mapping[str, Load],
    *,
    requested: str | None = None,
    own_associate: str | None = None,
) -> Pick:
    """The host of a visit among the qualified associates `free` at its time: the
    requested one (who must be free), else her own associate when free, else the fairest
    pick of the others."""
    if requested:
        if requested not in free:
            raise AssociateNotFree(requested)
        return Pick(requested, HostChoice.REQUESTED)
    if own_associate and own_associate in free:
        return Pick(own_associate, HostChoice.OWN_ASSOCIATE)
    ordered = fair_order(free, loads)
    if not ordered:
        raise NoHostAvailable()
    return Pick(ordered[0], HostChoice.STORE)


def proposal_order(free: Collection[str], loads: Mapping[str, Load], own_associate: str | None) -> list[str]:
    """The free associates as a slot lists them: the one `choose` would take first, then
    the rest in fair order."""
    ordered = fair_order(free, loads)
    if own_associate and own_associate in free:
        ordered.remove(own_associate)
        ordered.insert(0, own_associate)
    return ordered


def qualified(host: Host, store_id: str, appointment_type: AppointmentType) -> bool:
    """Active, of the store, and with one of the specialities the type asks for (any
    associate when it asks for none)."""
    wanted = appointment_type.specialities
    return host.active and host.store_id == store_id and (not wanted or not wanted.isdisjoint(host.specialities))
