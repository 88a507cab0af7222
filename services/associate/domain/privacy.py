"""A customer's data as a whole in this service: who may export it, and what her erasure
does with the stored replies of requests about her. Pure, no I/O.

- Export (her copy, GDPR art. 15/20): headquarters, internal services and her home
  store's manager, exactly whom the customer service's ExportCustomer answers; never
  associates, nor the manager of a store that only holds her. ExportCustomer asks for it
  with its caller's principal, so the same people get the same answer whichever door
  they use. One this service never heard of answers store staff like one out of their
  reach, headquarters NOT_FOUND.
- Erasure: the replies stored for `request_id` replays that name her are withdrawn and
  their keys kept as tombstones (a replay is refused instead of answered with her data or
  run again); a method without a rule refuses the erasure rather than leave a copy.
"""

from __future__ import annotations

from servicekit import erasure as erasure_rules
from servicekit.auth import Principal, Role
from servicekit.erasure import ReplyRules

from .access import CustomerFacts, check_reach_customer, customer_denied, deny, everywhere

# Stored replies that name her, by method: withdrawn (a task's title, a claim's reason,
# her assignment) or kept (they never name a customer).
REPLIES = ReplyRules(
    withdraw=("CreateTask", "ClaimClient", "TransferClient"),
    keep=("CreateStore", "CreateAssociate"),
)
WITHDRAW_REPLIES, KEEP_REPLIES = REPLIES.withdraw, REPLIES.keep
ERASED_REQUEST = erasure_rules.ERASED_REQUEST
withdraws_reply = REPLIES.withdraws


def check_export(p: Principal, c: CustomerFacts) -> None:
    """Headquarters and internal services; a manager only when her store is the customer's
    home store (one without a home store is headquarters')."""
    if p.role is Role.ASSOCIATE:
        raise deny(p, "export a customer's data", resource=c.name)
    check_reach_customer(p, c)
    if not everywhere(p) and not (p.store and c.home_store == p.store):
        raise customer_denied(p, c.name)
