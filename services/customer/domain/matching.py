"""Who a till sale is for when the till names the client by her contact points, without
I/O. The rule keeps the till working without telling the caller anything about customers
she cannot reach (no existence oracle):

* A contact point matches only a customer the caller reaches (domain/access.can_reach).
  The first given point that does decides: the sale is hers.
* A point that belongs to a customer out of the caller's reach is treated as no match.
  The sale is recorded exactly as for a client nobody knows (a new customer in the
  purchase's store, the same answer), except that the new customer does not take that
  point: a contact point has one owner, and a second customer holding it would be a
  duplicate of someone the caller must not learn of. Headquarters, who reaches everyone,
  may merge the two later (FindDuplicates, MergeCustomers).

What remains observable, on purpose: the new customer's profile lists only the points
that were free. Hiding that too would mean storing a contact point twice; the maison's
rule that a point has one owner wins, and the caller never learns who owns it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .profile import ContactPoint


@dataclass(frozen=True)
class Owned:
    """A given contact point (by its position in the request) and the customer owning it."""

    position: int
    customer_id: str


@dataclass(frozen=True)
class Identified:
    """The customer the sale is for, or None with the points a new customer may take."""

    customer_id: str | None
    free_points: tuple[ContactPoint, ...] = ()


def identify(points: Sequence[ContactPoint], owners: Sequence[Owned], reachable: frozenset[str]) -> Identified:
    """`owners` in the order of the points given (a point may have several: a phone number
    also finds the client known by it on WhatsApp); `reachable` the owners the caller reaches."""
    for owned in sorted(owners, key=lambda o: o.position):
        if owned.customer_id in reachable:
            return Identified(owned.customer_id)
    taken = {owned.position for owned in owners}
    free = [p for i, p in enumerate(points) if i not in taken]
    # A kind whose primary point was left out gets its first free point as primary.
    with_primary = {p.kind for p in free if p.primary}
    first_of_kind = {p.kind: i for i, p in reversed(list(enumerate(free)))}
    return Identified(
        None,
        tuple(
            ContactPoint(p.kind, p.value, p.primary or (p.kind not in with_primary and first_of_kind[p.kind] == i))
            for i, p in enumerate(free)
        ),
    )
