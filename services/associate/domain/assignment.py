"""Who should hold a customer: the assignment rules, pure (no I/O).

Applied when a customer appears (customer.created), scans an associate's QR card, or
loses her associate (hand-over). The storage layer gathers the facts (the associate a
referral code names, the store's active associates with their book sizes) and applies
the decision in the event's transaction.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from atelier.events.v1.associate_events_pb2 import AssignmentReason

REFERRAL = AssignmentReason.ASSIGNMENT_REASON_REFERRAL
STORE_RULE = AssignmentReason.ASSIGNMENT_REASON_STORE_RULE
HQ_POOL = AssignmentReason.ASSIGNMENT_REASON_HQ_POOL
TRANSFER = AssignmentReason.ASSIGNMENT_REASON_TRANSFER
CLAIM = AssignmentReason.ASSIGNMENT_REASON_CLAIM
HAND_OVER = AssignmentReason.ASSIGNMENT_REASON_HAND_OVER
CUSTOMER_REMOVED = AssignmentReason.ASSIGNMENT_REASON_CUSTOMER_REMOVED

# Reasons a QR scan may override: placements made by a rule, not by a person or a referral.
_AUTOMATIC = frozenset({STORE_RULE, HQ_POOL})


@dataclass(frozen=True)
class Candidate:
    """An active associate who may receive customers, with her current load."""

    associate_id: str
    book_size: int
    capacity: int


@dataclass(frozen=True)
class Decision:
    """The associate to bind (None: the headquarters pool) and why."""

    associate_id: str | None
    reason: int


def load(book_size: int, capacity: int) -> float:
    # Capacity 0 means "takes no new clients from the rule"; she ranks after everyone.
    return book_size / capacity if capacity > 0 else float("inf")


def least_loaded(candidates: Iterable[Candidate]) -> Candidate | None:
    """Fewest clients relative to capacity; ties go to the smallest associate id, so
    replicas and replays agree."""
    eligible = [c for c in candidates if c.capacity > 0]
    if not eligible:
        return None
    return min(eligible, key=lambda c: (load(c.book_size, c.capacity), c.associate_id))


def for_new_customer(
    *, referral: str | None, home_store: str, candidates: Sequence[Candidate]
) -> Decision:
    """Rule 1 (an active associate named by the referral code or who created her), else
    rule 2 (the home store's least-loaded active associate), else rule 3 (the pool)."""
    if referral:
        return Decision(referral, REFERRAL)
    if home_store:
        best = least_loaded(candidates)
        if best is not None:
            return Decision(best.associate_id, STORE_RULE)
    return Decision(None, HQ_POOL)


def scan_binds(current_primary: str | None, current_reason: int | None, scanned: str) -> bool:
    """A QR scan binds her to the scanned associate when she has no primary associate or
    one placed only by a rule; a referral, transfer, claim or hand-over stands."""
    if current_primary == scanned:
        return False
    return current_primary is None or current_reason in _AUTOMATIC


def spread(customers: Sequence[str], candidates: Sequence[Candidate]) -> list[tuple[str, str]]:
    """Hand customers out one by one to whoever is least loaded at that moment (book
    size counts the ones already handed out). Deterministic: ties by associate id.
    Returns (customer_id, associate_id) pairs; empty when nobody can take them."""
    eligible = [c for c in candidates if c.capacity > 0]
    if not eligible:
        # Nobody has capacity: still spread evenly rather than parking a whole book.
        eligible = [Candidate(c.associate_id, c.book_size, 1) for c in candidates]
    if not eligible:
        return []
    heap = [(load(c.book_size, c.capacity), c.associate_id, c.book_size, c.capacity) for c in eligible]
    heapq.heapify(heap)
    moves = []
    for customer_id in customers:
        _, aid, size, cap = heapq.heappop(heap)
        moves.append((customer_id, aid))
        heapq.heappush(heap, (load(size + 1, cap), aid, size + 1, cap))
    return moves
