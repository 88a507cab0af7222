"""Who should hold a customer: the assignment rules, pure (no I/O).

Applied when a customer appears (customer.created), scans an associate's QR card, is
transferred, claimed, merged or removed. The use cases gather the facts (the associate a
referral code names, the store's active associates with their book sizes, who holds her
now) and apply the decision under her lock; hand-over has its own plan
(domain.handover) built on the same load measure.

Referral → least-loaded active associate of her home store → the headquarters pool.
A QR scan later moves her only within one store (after_scan).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, IntEnum


class Role(IntEnum):
    """How an associate holds a customer (the contract's AssignmentRole numbers)."""

    PRIMARY = 1
    SECONDARY = 2


class Reason(IntEnum):
    """Why a customer is held the way she is (the contract's AssignmentReason numbers)."""

    REFERRAL = 1
    STORE_RULE = 2
    HQ_POOL = 3
    TRANSFER = 4
    CLAIM = 5
    HAND_OVER = 6
    CUSTOMER_REMOVED = 7


# The reason a person gives for a change of holder (a transfer, a claim, its decision).
MAX_REASON = 1000

# Reasons a QR scan may override: placements made by a rule, not by a person or a referral.
_AUTOMATIC = frozenset({Reason.STORE_RULE, Reason.HQ_POOL})


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
    reason: Reason


@dataclass(frozen=True)
class Holding:
    """Who holds one customer now: her primary associate (or the pool) and secondaries."""

    primary: str | None
    primary_reason: int | None
    primary_since: datetime | None
    secondaries: tuple[str, ...]
    pool_reason: int | None
    pool_since: datetime | None

    @property
    def in_pool(self) -> bool:
        return self.pool_reason is not None

    @property
    def holders(self) -> set[str]:
        return {a for a in (self.primary, *self.secondaries) if a}


NOBODY = Holding(None, None, None, (), None, None)


@dataclass(frozen=True)
class AssignmentChange:
    """One change of who holds a customer: one history row and one assignment_changed
    event. Ids are bare; `store` is the new holder's store name ('' when nobody)."""

    customer_id: str
    role: Role
    previous: str
    associate: str
    store: str
    reason: Reason
    note: str


def load(book_size: int, capacity: int) -> float:
    # Capacity 0 means "takes no new customers from the rule"; she ranks after everyone.
    return book_size / capacity if capacity > 0 else float("inf")


def least_loaded(candidates: Iterable[Candidate]) -> Candidate | None:
    """Fewest customers relative to capacity; ties go to the smallest associate id, so
    replicas and replays agree."""
    eligible = [c for c in candidates if c.capacity > 0]
    if not eligible:
        return None
    return min(eligible, key=lambda c: (load(c.book_size, c.capacity), c.associate_id))


def for_new_customer(*, referral: str | None, home_store: str, candidates: Sequence[Candidate]) -> Decision:
    """Rule 1 (an active associate named by the referral code or who created her), else
    rule 2 (the home store's least-loaded active associate), else rule 3 (the pool)."""
    if referral:
        return Decision(referral, Reason.REFERRAL)
    if home_store:
        best = least_loaded(candidates)
        if best is not None:
            return Decision(best.associate_id, Reason.STORE_RULE)
    return Decision(None, Reason.HQ_POOL)


def scan_binds(current_primary: str | None, current_reason: int | None, scanned: str) -> bool:
    """A QR scan binds her to the scanned associate when she has no primary associate or
    one placed only by a rule; a referral, transfer, claim or hand-over stands."""
    if current_primary == scanned:
        return False
    return current_primary is None or current_reason in _AUTOMATIC


class ScanOutcome(Enum):
    BIND = "bind"  # she becomes the scanned associate's customer
    STAYS = "stays"  # nothing changes
    REFER = "refer"  # nothing changes; the manager of `review_store` hears of the scan


@dataclass(frozen=True)
class ScanDecision:
    outcome: ScanOutcome
    # REFER: the store (`stores/{id}`) whose manager is told (a task in its queue).
    review_store: str = ""


def after_scan(
    current: Holding, scanned: str, scanned_store: str, home_store: str, holder_stores: AbstractSet[str]
) -> ScanDecision:
    """What her scan of an associate's QR card does (audit item 5). The scan is her own
    wish, but without a manager it moves her only within one store, as a store's manager
    could (domain.access.check_transfer): the scanned associate must work in her home
    store (when she has one) and in the store of each of her current holders. Then she is
    bound when nobody or only a rule placed her (scan_binds); a placement by a person
    stands. A scan naming another store's associate moves nobody: her home store's
    manager (else her holders' store's) hears of it and may ask headquarters to transfer
    her. Stores are `stores/{id}` names."""
    if current.primary == scanned:
        return ScanDecision(ScanOutcome.STAYS)
    concerned = set(holder_stores) | ({home_store} if home_store else set())
    if not concerned <= {scanned_store}:
        return ScanDecision(ScanOutcome.REFER, home_store or min(holder_stores))
    if scan_binds(current.primary, current.primary_reason, scanned):
        return ScanDecision(ScanOutcome.BIND)
    return ScanDecision(ScanOutcome.STAYS)


def primary_unchanged(current: Holding, associate_id: str | None) -> bool:
    """Whether she already is held that way (the associate as primary, or the pool)."""
    return current.primary == associate_id and (associate_id is not None or current.in_pool)


def new_primary_changes(
    current: Holding, customer_id: str, associate_id: str | None, store: str, reason: Reason, note: str
) -> list[AssignmentChange]:
    """The changes of making `associate_id` her primary (None: the pool). A secondary
    promoted to primary ends her secondary holding first."""
    changes = []
    if associate_id is not None and associate_id in current.secondaries:
        changes.append(AssignmentChange(customer_id, Role.SECONDARY, associate_id, "", "", reason, note))
    changes.append(
        AssignmentChange(customer_id, Role.PRIMARY, current.primary or "", associate_id or "", store, reason, note)
    )
    return changes


def holds(current: Holding, associate_id: str) -> bool:
    """Whether she is already held by that associate, as primary or secondary."""
    return associate_id == current.primary or associate_id in current.secondaries


def removal_changes(current: Holding, customer_id: str, reason: Reason, note: str) -> list[AssignmentChange]:
    """She no longer exists here (erased, deleted or merged into another customer): every
    holding ends."""
    changes = []
    if current.primary:
        changes.append(AssignmentChange(customer_id, Role.PRIMARY, current.primary, "", "", reason, note))
    changes += [AssignmentChange(customer_id, Role.SECONDARY, a, "", "", reason, note) for a in current.secondaries]
    return changes


def followers_after_merge(duplicate: Holding, survivor: Holding) -> tuple[str | None, tuple[str, ...]]:
    """The duplicate's holders follow her into the survivor where the survivor has room:
    her primary becomes the survivor's if the survivor has none, her secondaries join.
    Returns (new primary or None, associates to add as secondaries)."""
    primary = duplicate.primary if duplicate.primary and not survivor.primary else None
    return primary, duplicate.secondaries


def for_restored_customer(
    *, before: Decision | None, before_holds_books: bool, home_store: str, candidates: Sequence[Candidate]
) -> Decision:
    """A customer an unmerge brought back: the primary associate she had before the merge
    (`before`, held for the reason she had her) while that associate still holds books,
    else rule 2 (her home store's least-loaded active associate), else rule 3 (the pool)."""
    if before is not None and before.associate_id and before_holds_books:
        return before
    return for_new_customer(referral=None, home_store=home_store, candidates=candidates)
