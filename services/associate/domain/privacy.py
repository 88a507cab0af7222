"""A customer's data as a whole in this service: who may export it, and what her erasure
does with the stored replies of requests about her. Pure, no I/O.

- Export (her copy, GDPR art. 15/20): headquarters, internal services and a manager who
  reaches her (her home store's, or a store holding her); never associates. The customer
  service's ExportCustomer asks for it with its caller's principal, so the same people
  get the same answer whichever door they use. One this service never heard of answers
  store staff like one out of their reach, headquarters NOT_FOUND.
- Erasure: the replies stored for `request_id` replays that name her are withdrawn and
  their keys kept as tombstones (a replay is refused instead of answered with her data or
  run again); a method without a rule refuses the erasure rather than leave a copy.
"""

from __future__ import annotations

from servicekit.auth import Principal, Role
from servicekit.errors import FailedPrecondition

from .access import CustomerFacts, check_reach_customer, deny

# Stored replies that name her, by method: withdrawn (a task's title, a claim's reason,
# her assignment) or kept (they never name a customer).
WITHDRAW_REPLIES = ("CreateTask", "ClaimClient", "TransferClient")
KEEP_REPLIES = ("CreateStore", "CreateAssociate")
# The reason a replay of a withdrawn request is refused with.
ERASED_REQUEST = "CUSTOMER_ERASED"


def check_export(p: Principal, c: CustomerFacts) -> None:
    if p.role is Role.ASSOCIATE:
        raise deny(p, "export a customer's data", resource=c.name)
    check_reach_customer(p, c)


def withdraws_reply(method: str) -> bool:
    """Whether a stored reply of `method` naming her is withdrawn (or kept);
    FAILED_PRECONDITION for a method erasure has no rule for."""
    if method in WITHDRAW_REPLIES:
        return True
    if method in KEEP_REPLIES:
        return False
    raise FailedPrecondition(
        f"erasure has no rule for the stored replies of {method}; refusing a partial erasure",
        reason="ERASURE_RULE_MISSING",
        metadata={"method": method},
    )
