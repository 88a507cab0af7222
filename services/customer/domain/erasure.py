"""What erasing a person does to each table that holds rows about her, and to the stored
replies of idempotent requests that name her. Pure, no I/O.

Every table with a `customer_id` column holds rows about a customer. Erasure must decide
per table what is personal, so it refuses to run when a table it has no rule for appears:
a silent partial erasure would be worse than none. The same holds for the methods whose
replies are stored for replays (servicekit.uow.Idempotent).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from servicekit import erasure as erasure_rules
from servicekit.erasure import ReplyRules
from servicekit.errors import FailedPrecondition, Violations

MAX_REASON = 500

# Rows that are personal through and through: deleted.
DELETE = ("contact_points", "consent_changes", "notes", "customer_computed_tags")
# Rows kept with their personal columns blanked (the storage knows which columns).
BLANK = ("interactions",)
# Non-personal facts kept for accounting and the associate's book, under an id that no
# longer identifies anyone once the profile is blank.
KEEP = (
    "purchases",
    "purchase_lines",
    "purchase_returns",
    "return_lines",
    "customer_purchase_stats",
    "customer_assignments",
    "erasures",
)


def read_reason(raw: str, violations: Violations) -> str:
    """The grounds of an erasure, as recorded with it (required: an erasure is a legal act)."""
    reason = " ".join(raw.split())
    violations.require(
        0 < len(reason) <= MAX_REASON, "reason", f"required: the grounds, at most {MAX_REASON} characters"
    )
    return reason


@dataclass(frozen=True)
class Plan:
    delete: tuple[str, ...]
    blank: tuple[str, ...]


def plan(tables: Iterable[str]) -> Plan:
    """What to do with each of the customer tables present; FAILED_PRECONDITION when one
    of them has no rule."""
    present = list(tables)
    unknown = [t for t in present if t not in DELETE and t not in BLANK and t not in KEEP]
    if unknown:
        raise FailedPrecondition(
            f"erasure has no rule for table(s) {', '.join(unknown)}; refusing a partial erasure",
            reason="ERASURE_RULE_MISSING",
            metadata={"tables": ",".join(unknown)},
        )
    return Plan(
        delete=tuple(t for t in DELETE if t in present),
        blank=tuple(t for t in BLANK if t in present),
    )


# Stored replies (request_id replays) that name her, by method. Withdrawn: the reply goes
# and its key stays as a tombstone, so replaying the request (her create, a note about
# her) is refused instead of answered with her data or run again to bring her back.
REPLIES = ReplyRules(
    withdraw=("CreateCustomer", "CreateNote"),
    # Kept: replies holding ids only (a merge names two customers and nothing personal).
    keep=("MergeCustomers",),
)
WITHDRAW_REPLIES, KEEP_REPLIES = REPLIES.withdraw, REPLIES.keep
ERASED_REQUEST = erasure_rules.ERASED_REQUEST
withdraws_reply = REPLIES.withdraws
