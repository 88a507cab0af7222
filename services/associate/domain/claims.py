"""Claims: an associate asks to hold a customer, a manager approves or rejects."""

from __future__ import annotations

from enum import IntEnum

from servicekit.auth import Principal, Role
from servicekit.errors import FailedPrecondition

from .names import bare
from .staff import Staff, departed


class ClaimState(IntEnum):
    """The contract's Claim.State numbers (also stored)."""

    PENDING = 1
    APPROVED = 2
    REJECTED = 3


def decision_repeats(state: int, approve: bool, name: str) -> bool:
    """True when a decided claim is decided again the same way (which changes nothing);
    deciding it the other way is refused. False for a pending claim."""
    if state == ClaimState.PENDING:
        return False
    if state == (ClaimState.APPROVED if approve else ClaimState.REJECTED):
        return True
    raise FailedPrecondition(f"{name} was already decided", reason="CLAIM_DECIDED", metadata={"resource": name})


def check_claimant(me: Staff | None, name: str) -> None:
    """Only an associate who still works here claims customers."""
    if me is None or departed(me):
        raise FailedPrecondition(
            f"{name} is not an active associate", reason="ASSOCIATE_UNKNOWN", metadata={"associate": name}
        )


def check_not_held(primary: str | None, associate_id: str, customer: str) -> None:
    if primary == associate_id:
        raise FailedPrecondition(
            f"{customer} is already in your book", reason="ALREADY_HELD", metadata={"customer": customer}
        )


def visible_to(caller: Principal) -> tuple[str | None, str | None]:
    """Whose claims the caller lists: (associate, store), None meaning any. An associate
    her own, a manager her store's, headquarters all."""
    if caller.role is Role.ASSOCIATE:
        return caller.associate_id, None
    if caller.role is Role.MANAGER:
        return None, bare(caller.store, "stores")
    return None, None
