"""Hand-over: the plan for moving a departed associate's book, chunk by chunk. Pure.

A book is moved in chunks of CHUNK_SIZE customers, each in its own transaction: her
primary customers first, then her secondary holdings (which simply end). Each chunk's
primary customers go to the named successor; without one they are spread across her
store's active associates by load (whoever is least loaded at that moment takes the next
customer); with nobody to take them they wait in the headquarters pool.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from servicekit.auth import Principal
from servicekit.errors import FailedPrecondition, invalid

from . import access
from .assignment import AssignmentChange, Candidate, Reason, Role, load
from .names import prefixed
from .staff import Staff, holds_books

CHUNK_SIZE = 1000
# The holdings a chunk moves, in this order: a later role waits until none of the
# earlier is left.
ORDER = (Role.PRIMARY, Role.SECONDARY)


@dataclass(frozen=True)
class Move:
    """One customer of the book and who takes her (None: the headquarters pool)."""

    customer_id: str
    associate_id: str | None


def note(departed: str) -> str:
    return f"hand-over from associates/{departed}"


def check_successor(caller: Principal, name: str, successor: Staff | None, store: str) -> None:
    """A named successor exists, holds books, and works in the same store unless
    headquarters hands the book over."""
    if successor is None:
        raise invalid("successor", f"{name} does not exist")
    if not holds_books(successor):
        raise FailedPrecondition(
            f"{name} is not an active associate", reason="SUCCESSOR_INACTIVE", metadata={"successor": name}
        )
    if prefixed("stores", successor.store_id) != store and not access.everywhere(caller):
        raise access.deny(caller, f"hand a book over to another store ({name})", resource=name)


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


def plan_primaries(customers: Sequence[str], *, successor: str | None, candidates: Sequence[Candidate]) -> list[Move]:
    """Who takes each of this chunk's primary customers. `candidates` (the store's active
    associates but her, with book sizes that already count the chunks moved before) are
    only consulted without a successor."""
    if successor:
        return [Move(c, successor) for c in customers]
    pairs = spread(customers, candidates)
    if not pairs:
        return [Move(c, None) for c in customers]
    return [Move(c, a) for c, a in pairs]


def book_size_deltas(departed: str, moves: Sequence[Move]) -> dict[str, int]:
    """How each book size changes with the chunk: hers shrinks by the chunk, each taker's
    grows by what she takes."""
    deltas = {departed: -len(moves)}
    for move in moves:
        if move.associate_id:
            deltas[move.associate_id] = deltas.get(move.associate_id, 0) + 1
    return deltas


def primary_changes(
    departed: str, moves: Sequence[Move], promoted: Sequence[tuple[str, str]], stores: Mapping[str, str]
) -> list[AssignmentChange]:
    """The history and events of a chunk of primaries: the secondary holdings that ended
    because their holder was promoted (`promoted`: (customer_id, associate_id)), then one
    change per customer. `stores`: the store id of each taker."""
    why = note(departed)
    changes = [AssignmentChange(c, Role.SECONDARY, a, "", "", Reason.HAND_OVER, why) for c, a in promoted]
    for move in moves:
        taker = move.associate_id
        store = prefixed("stores", stores[taker]) if taker else ""
        changes.append(
            AssignmentChange(move.customer_id, Role.PRIMARY, departed, taker or "", store, Reason.HAND_OVER, why)
        )
    return changes


def secondary_changes(departed: str, customers: Sequence[str]) -> list[AssignmentChange]:
    """Her secondary holdings end; nobody takes them over."""
    why = note(departed)
    return [AssignmentChange(c, Role.SECONDARY, departed, "", "", Reason.HAND_OVER, why) for c in customers]
