"""Who may do what with a customer. Pure rules, no I/O: the use cases ask them before
(and, for lists and searches, inside) every query.

An associate reaches the customers she holds (primary or secondary, as the associate
service's assignment_changed events say), a manager the customers of her store,
headquarters and internal services everything.

Before any of that, the caller herself must still be who her token says (the caller
gate, servicekit.callers, judging `standing`): a member of staff the directory knows as
departed or on leave, moved to another store, or no longer holding the role her token
claims, can do nothing, whatever her token says.
"""

from __future__ import annotations

from dataclasses import dataclass

from servicekit.auth import Principal, Role
from servicekit.callers import Standing
from servicekit.errors import AlreadyExists, AtelierError, NotFound, PermissionDenied, invalid

from .directory import StaffRecord

_EVERYWHERE = (Role.HQ, Role.SERVICE)


@dataclass(frozen=True)
class Reach:
    """The facts about one customer that decide who may reach her."""

    home_store: str
    # Ids of the associates holding her (primary or secondary), once assignments exist.
    associates: frozenset[str] = frozenset()
    # Erased (a right-to-erasure request was carried out): her id is kept only so that the
    # accounting rows under it stay whole; she is gone for every read and write.
    erased: bool = False


@dataclass(frozen=True)
class Scope:
    """The customers a caller may list or search: None means no limit on that axis."""

    store: str | None = None
    associate: str | None = None


# The principal role each role word of the directory holds.
_HOLDS = {role.value: role for role in (Role.ASSOCIATE, Role.MANAGER, Role.HQ)}


def standing(record: StaffRecord | None) -> Standing | None:
    """What the caller gate (servicekit.callers.check_standing) judges of a member of
    staff the directory (domain/directory.py) knows: her store, her role and her status
    as the last applied event said. None when the directory does not know her associate
    id: she is let through as before, because the directory learns of a new member of
    staff from an event that may arrive a moment after her first token is used; once
    known, her standing decides."""
    if record is None:
        return None
    return Standing(record.store, _HOLDS.get(record.role), record.status)


def scope(principal: Principal) -> Scope:
    if principal.role in _EVERYWHERE:
        return Scope()
    if principal.role is Role.ASSOCIATE:
        # Her own clients wherever they live (a secondary client may be another store's).
        return Scope(associate=principal.associate_id)
    return Scope(store=principal.store)


def store_scope(principal: Principal) -> str | None:
    """The one store the caller creates customers in, or None for every store."""
    if principal.role in _EVERYWHERE:
        return None
    return principal.store


def home_store_of_new(principal: Principal, given: str) -> str:
    """The home store of a customer the caller creates: the one given, else the caller's
    own store when she is bound to one."""
    return given or (store_scope(principal) or "")


def provisional_holder(principal: Principal) -> str | None:
    """The associate who holds a customer she creates until the associate service's
    assignment event confirms it, so she can read her new client at once."""
    if principal.role is Role.ASSOCIATE and principal.associate_id:
        return principal.associate_id
    return None


def can_reach(principal: Principal, reach: Reach) -> bool:
    limit = scope(principal)
    if limit.store is not None and reach.home_store != limit.store:
        return False
    return limit.associate is None or limit.associate in reach.associates


def check_read(principal: Principal, reach: Reach, resource: str) -> None:
    if not can_reach(principal, reach):
        raise PermissionDenied(
            f"{principal.subject} may not access {resource}",
            reason="CUSTOMER_OUT_OF_SCOPE",
            metadata={"resource": resource},
        )


def check_write(principal: Principal, reach: Reach, resource: str) -> None:
    check_read(principal, reach, resource)


def check_create(principal: Principal, home_store: str) -> None:
    scope = store_scope(principal)
    if scope is not None and home_store != scope:
        raise PermissionDenied(
            f"{principal.role.value}s create customers of their own store ({scope})",
            reason="STORE_OUT_OF_SCOPE",
            metadata={"home_store": home_store},
        )


def check_sale_store(principal: Principal, store: str) -> None:
    """Store staff record sales of their own store's till; headquarters and integrations
    those of any store (or of none, online)."""
    scope = store_scope(principal)
    if scope is not None and store != scope:
        raise PermissionDenied(
            f"{principal.role.value}s record sales of their own store ({scope})",
            reason="STORE_OUT_OF_SCOPE",
            metadata={"store": store},
        )


def check_chosen_id(principal: Principal, customer_id: str) -> None:
    """Only headquarters and integrations (role service) choose a new customer's id. Store
    staff may not, whatever the id: an id already taken by a customer out of their reach
    would otherwise be told apart from a free one (an existence oracle)."""
    if customer_id and principal.role not in _EVERYWHERE:
        raise invalid("customer_id", "chosen ids are for headquarters and integrations; leave it empty")


def replayed_order_resource(customer_id: str | None) -> str:
    """What the refusal of a replayed order names: the customer the caller named, never
    the one the order's contact points found (she may be out of the caller's reach)."""
    return f"customers/{customer_id}" if customer_id else "the customer of this order"


def check_move(principal: Principal, old_store: str, new_store: str, resource: str) -> None:
    """Moving a customer to another boutique is a headquarters decision."""
    if old_store != new_store and principal.role not in _EVERYWHERE:
        raise PermissionDenied(
            "only headquarters moves a customer to another store",
            reason="STORE_CHANGE_DENIED",
            metadata={"resource": resource},
        )


def check_delete(principal: Principal, reach: Reach, resource: str) -> None:
    if principal.role is Role.ASSOCIATE:
        raise PermissionDenied(
            "associates cannot delete customers", reason="ROLE_DENIED", metadata={"resource": resource}
        )
    check_read(principal, reach, resource)


def missing(principal: Principal, resource: str) -> AtelierError:
    """What to answer for a customer that does not exist. Callers limited to a store or a
    book get PERMISSION_DENIED, as for an existing customer out of their reach (AIP-211),
    so ids cannot be probed; headquarters learns NOT_FOUND."""
    if principal.role in _EVERYWHERE:
        return NotFound(resource)
    return PermissionDenied(
        f"{principal.subject} may not access {resource}",
        reason="CUSTOMER_OUT_OF_SCOPE",
        metadata={"resource": resource},
    )


def check_present(principal: Principal, reach: Reach, resource: str) -> Reach:
    """Her reach, when she is there to be reached: an erased customer gets the answer of
    one who does not exist (`missing`), whatever the caller may reach."""
    if reach.erased:
        raise missing(principal, resource)
    return reach


def contact_point_taken(principal: Principal, owner: str, owner_reach: Reach | None, value: str) -> AlreadyExists:
    """What to answer when a contact point the caller gives belongs to another customer
    (`owner`, her id). A contact point has one owner, so that it is taken is said; who
    owns it only to a caller who reaches her (she can then open that profile instead)."""
    metadata = {"value": value}
    if owner and owner_reach is not None and can_reach(principal, owner_reach):
        metadata["existing_customer"] = f"customers/{owner}"
        message = f"contact point {value} already belongs to customers/{owner}"
    else:
        message = f"contact point {value} already belongs to another customer"
    return AlreadyExists(message, reason="CONTACT_POINT_TAKEN", metadata=metadata)
