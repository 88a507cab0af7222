"""Who may do what in the associate service. Pure rules over the caller and the facts
the servicer loaded (stores of the associates concerned)."""

from __future__ import annotations

from servicekit.auth import Principal, Role
from servicekit.errors import PermissionDenied

_EVERYWHERE = (Role.HQ, Role.SERVICE)


def everywhere(p: Principal) -> bool:
    return p.role in _EVERYWHERE


def manages(p: Principal, store: str) -> bool:
    """HQ, or the manager of `store` (`stores/{id}`)."""
    return everywhere(p) or (p.role is Role.MANAGER and p.store == store)


def deny(p: Principal, what: str, reason: str = "ROLE_DENIED", **metadata: str) -> PermissionDenied:
    return PermissionDenied(f"{p.subject} may not {what}", reason=reason, metadata=metadata)


def check_manage_stores(p: Principal) -> None:
    if not everywhere(p):
        raise deny(p, "create stores")


def check_update_store(p: Principal, store: str, paths: set[str]) -> None:
    """Headquarters changes anything; a store's manager only its hours."""
    if everywhere(p):
        return
    if manages(p, store) and paths <= {"weekly_hours", "exceptions"}:
        return
    raise deny(p, f"change {', '.join(sorted(paths))} of {store}", resource=store)


def check_create_associate(p: Principal, store: str, role: int, hq_role: int) -> None:
    if everywhere(p):
        return
    if p.role is Role.MANAGER and p.store == store and role != hq_role:
        return
    raise deny(p, f"create staff in {store}", resource=store)


def check_update_associate(
    p: Principal, associate_id: str, current_store: str, paths: set[str], values: dict, self_service: frozenset[str], hq_role: int
) -> None:
    if everywhere(p):
        return
    if p.role is Role.ASSOCIATE and p.associate_id == associate_id and paths <= self_service:
        return
    if p.role is Role.MANAGER and p.store == current_store:
        moved = "store_id" in values and f"stores/{values['store_id']}" != current_store
        if not moved and values.get("role") != hq_role:
            return
    raise deny(p, f"change {', '.join(sorted(paths))} of associates/{associate_id}", resource=f"associates/{associate_id}")


def check_depart(p: Principal, store: str, associate: str) -> None:
    if not manages(p, store):
        raise deny(p, f"record the departure of {associate}", resource=associate)


def check_transfer(p: Principal, stores_concerned: set[str], customer: str) -> None:
    """HQ, or the manager of every store concerned (the current holder's and the new one's)."""
    if everywhere(p):
        return
    if p.role is Role.MANAGER and stores_concerned <= {p.store}:
        return
    raise deny(p, f"transfer {customer}", resource=customer)


def check_claim(p: Principal) -> None:
    if p.role not in (Role.ASSOCIATE, Role.MANAGER) or not p.associate_id:
        raise deny(p, "claim customers: only associates hold a book")


def check_decide_claim(p: Principal, claimant_store: str, claim: str) -> None:
    if not manages(p, claimant_store):
        raise deny(p, f"decide {claim}", resource=claim)


def check_see_pool(p: Principal) -> None:
    if not (everywhere(p) or p.role is Role.MANAGER):
        raise deny(p, "see the headquarters pool")


def can_see_customer(p: Principal, holders: set[str], holder_stores: set[str], home_store: str) -> bool:
    """A customer's assignment: HQ; a manager of her home store or of a store holding
    her; an associate holding her."""
    if everywhere(p):
        return True
    if p.role is Role.MANAGER:
        return p.store in holder_stores or p.store == home_store
    return p.associate_id in holders


def check_book(p: Principal, parent_kind: str, parent: str, store: str) -> None:
    """An associate's book: herself, her store's manager, HQ. A store's: its manager, HQ."""
    if everywhere(p) or manages(p, store):
        return
    if parent_kind == "associates" and p.role is Role.ASSOCIATE and parent == f"associates/{p.associate_id}":
        return
    raise deny(p, f"see the book of {parent}", resource=parent)
