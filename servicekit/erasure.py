"""What erasure decides the same way in every service, without I/O: which stored replies
of idempotent requests go when the person they name is erased.

A withdrawn reply goes and its key stays as a tombstone (servicekit.idempotency.withdraw),
so replaying the request is refused with ERASED_REQUEST instead of being answered with her
data or run again to bring her back. A kept reply holds ids only. A method with no rule
refuses the erasure rather than leaving a copy behind.
"""

from __future__ import annotations

from dataclasses import dataclass

from servicekit.errors import FailedPrecondition

# The reason a replay of a withdrawn request is refused with.
ERASED_REQUEST = "CUSTOMER_ERASED"


@dataclass(frozen=True)
class ReplyRules:
    """A service's stored replies that can name a customer: withdrawn, or kept."""

    withdraw: tuple[str, ...]
    keep: tuple[str, ...]

    def withdraws(self, method: str) -> bool:
        """Whether a stored reply of `method` naming her is withdrawn (or kept);
        FAILED_PRECONDITION for a method erasure has no rule for."""
        if method in self.withdraw:
            return True
        if method in self.keep:
            return False
        raise FailedPrecondition(
            f"erasure has no rule for the stored replies of {method}; refusing a partial erasure",
            reason="ERASURE_RULE_MISSING",
            metadata={"method": method},
        )
