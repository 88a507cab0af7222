"""Who may do what in the associate service. Pure rules over the caller and the facts a
use case loaded (what the service knows of a customer, the records of the associates
concerned, a task's holder).

Every call first passes the caller gate (servicekit.callers, judging `standing`): a
member of staff who departed, is on leave, moved store or lost her role is refused
everywhere. Then headquarters (and the platform's own services) reach everything, a
manager her store, an associate her own book, tasks and figures. A customer belongs to her home store and to
her holders' stores; only when all of them are a manager's may she move the customer.
Store staff asking for a customer, task, claim, hand-over or ledger entry out of reach,
or one that does not exist, get the same PERMISSION_DENIED (AIP-211), so ids of other
stores cannot be probed; headquarters learns NOT_FOUND.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from servicekit.auth import Principal, Role
from servicekit.callers import Standing
from servicekit.errors import AtelierError, FailedPrecondition, NotFound, PermissionDenied, invalid

from .names import bare, prefixed
from .staff import Staff, StaffRole, Status, check_not_departed, holds_books
from .stores import HOURS

_EVERYWHERE = (Role.HQ, Role.SERVICE)


def everywhere(p: Principal) -> bool:
    return p.role in _EVERYWHERE


# -- every call: is the caller still what her token says? -------------------------------

# The principal role each staff role holds (StaffRole numbers as stored).
_HOLDS: dict[int, Role] = {StaffRole.ASSOCIATE: Role.ASSOCIATE, StaffRole.MANAGER: Role.MANAGER, StaffRole.HQ: Role.HQ}


def standing(staff: Staff | None) -> Standing | None:
    """What the caller gate (servicekit.callers.check_standing, before every RPC of this
    service) judges of a member of staff whose record this service holds: her store, her
    role and her status. None for an id without a record: this service holds every
    record it ever issued, so an unknown id is not one of its staff whose standing
    changed, and her token is judged by its role and store as before."""
    if staff is None:
        return None
    return Standing(prefixed("stores", staff.store_id), _HOLDS.get(staff.role), Status(staff.status).name.lower())


def manages(p: Principal, store: str) -> bool:
    """HQ, or the manager of `store` (`stores/{id}`; '' is nobody's store)."""
    return everywhere(p) or (p.role is Role.MANAGER and bool(store) and p.store == store)


def caller_store(p: Principal) -> str:
    """The caller's store, bare."""
    return bare(p.store, "stores")


def deny(p: Principal, what: str, reason: str = "ROLE_DENIED", **metadata: str) -> PermissionDenied:
    return PermissionDenied(f"{p.subject} may not {what}", reason=reason, metadata=metadata)


def _out_of_reach(p: Principal, resource: str, reason: str) -> PermissionDenied:
    return deny(p, f"access {resource}", reason, resource=resource)


# -- stores and associates ---------------------------------------------------------


def check_manage_stores(p: Principal) -> None:
    if not everywhere(p):
        raise deny(p, "create stores")


def check_update_store(p: Principal, store: str, paths: set[str]) -> None:
    """Headquarters changes anything; a store's manager only its hours."""
    if everywhere(p):
        return
    if manages(p, store) and paths <= HOURS:
        return
    raise deny(p, f"change {', '.join(sorted(paths))} of {store}", resource=store)


def check_create_associate(p: Principal, store: str, role: object) -> None:
    """Headquarters creates anyone; a manager creates associates of her own store only
    (a manager or headquarters record would lift someone's standing above hers)."""
    if everywhere(p):
        return
    if p.role is Role.MANAGER and p.store == store and role == StaffRole.ASSOCIATE:
        return
    raise deny(p, f"create staff in {store}", resource=store)


def manages_staff(p: Principal, member: Staff) -> bool:
    """Headquarters any member of staff; a manager only associates (role associate) of her
    own store: never a manager (herself included) nor headquarters staff, whatever store
    their record names."""
    if everywhere(p):
        return True
    return (
        p.role is Role.MANAGER
        and bool(p.store)
        and p.store == prefixed("stores", member.store_id)
        and member.role == StaffRole.ASSOCIATE
    )


def check_update_associate(
    p: Principal,
    associate_id: str,
    current: Staff,
    paths: set[str],
    values: Mapping[str, object],
    self_service: frozenset[str],
) -> None:
    """HQ changes anything; anyone her own `self_service` fields; a manager the associates
    of her store (`manages_staff`), as long as they stay in her store and stay associates
    (a manager raises nobody's role). Managers and headquarters staff are changed by
    headquarters only."""
    if everywhere(p):
        return
    if p.associate_id and p.associate_id == associate_id and paths <= self_service:
        return
    if manages_staff(p, current):
        moved = "store_id" in values and values["store_id"] != current.store_id
        if not moved and values.get("role", StaffRole.ASSOCIATE) == StaffRole.ASSOCIATE:
            return
    resource = f"associates/{associate_id}"
    raise deny(p, f"change {', '.join(sorted(paths))} of {resource}", resource=resource)


def check_depart(p: Principal, leaving: Staff, associate: str) -> None:
    """A departure: headquarters, or the manager of an associate of her store (a manager's
    or headquarters staff's departure is headquarters')."""
    if not manages_staff(p, leaving):
        raise deny(p, f"record the departure of {associate}", resource=associate)


def check_see_hand_over(p: Principal, store: str, hand_over: str) -> None:
    """A hand-over: the manager of the departed associate's store, or headquarters."""
    if not manages(p, store):
        raise deny(p, f"see {hand_over}", resource=hand_over)


def missing_hand_over(p: Principal, hand_over: str) -> AtelierError:
    """A hand-over that does not exist: store staff get the answer of one out of reach."""
    return hidden(p, hand_over, deny(p, f"see {hand_over}", resource=hand_over))


# -- customers: her assignment, transfers, claims, the pool and the book -------------------


@dataclass(frozen=True)
class CustomerFacts:
    """What the service knows of one customer, as access needs it: whether it has heard of
    her at all (`known`), her home store and her current holders (primary and secondary,
    bare ids) with their stores. Names in full (`customers/{id}`, `stores/{id}`)."""

    name: str
    known: bool
    home_store: str = ""
    holders: frozenset[str] = frozenset()
    holder_stores: frozenset[str] = frozenset()

    @property
    def stores(self) -> frozenset[str]:
        """The stores she belongs to: her home store and her holders' stores."""
        return self.holder_stores | ({self.home_store} if self.home_store else frozenset())


def hidden(p: Principal, resource: str, denial: PermissionDenied) -> AtelierError:
    """What a caller learns of something that does not exist: headquarters NOT_FOUND;
    store staff `denial`, the very answer they get for one that exists out of their reach
    (AIP-211: no existence oracle)."""
    return NotFound(resource) if everywhere(p) else denial


def customer_denied(p: Principal, customer: str) -> PermissionDenied:
    return deny(p, f"see {customer}", reason="CUSTOMER_OUT_OF_SCOPE", resource=customer)


def can_reach_customer(p: Principal, c: CustomerFacts) -> bool:
    """HQ; a manager of her home store or of a store holding her; an associate holding her."""
    if everywhere(p):
        return True
    if p.role is Role.MANAGER:
        return bool(p.store) and p.store in c.stores
    return bool(p.associate_id) and p.associate_id in c.holders


def check_reach_customer(p: Principal, c: CustomerFacts) -> None:
    """Her assignment, its history, a task on her. One the service never heard of answers
    store staff like one out of their reach; headquarters learns NOT_FOUND."""
    if not c.known:
        raise hidden(p, c.name, customer_denied(p, c.name))
    if not can_reach_customer(p, c):
        raise customer_denied(p, c.name)


def _all_hers(p: Principal, c: CustomerFacts) -> bool:
    """A manager's whole say over a customer: her home store and the stores of all her
    current holders are the manager's (a customer without a home store is headquarters')."""
    return bool(p.store) and c.home_store == p.store and c.holder_stores <= {p.store}


def check_task_on_customer(p: Principal, c: CustomerFacts) -> None:
    """A task made by hand on a customer: headquarters; an associate holding her; a manager
    when her home store and every holder's store are the manager's (as for a transfer: a
    manager reaching her only through one of her holders does not task her). Anyone else,
    and store staff naming a customer the service never heard of, get the same denial."""
    if not c.known:
        raise hidden(p, c.name, customer_denied(p, c.name))
    if everywhere(p):
        return
    if p.role is Role.MANAGER:
        if _all_hers(p, c):
            return
        raise customer_denied(p, c.name)
    check_reach_customer(p, c)


def check_transfer(p: Principal, c: CustomerFacts) -> None:
    """Whoever gives her to another associate, as primary or as one more secondary:
    headquarters, or a manager when her home store and the stores of all her current
    holders are hers (a customer without a home store is headquarters'). Anyone else gets
    the same denial, also for a customer the service never heard of (headquarters:
    NOT_FOUND)."""
    denial = deny(p, f"transfer {c.name}", resource=c.name)
    if not (everywhere(p) or p.role is Role.MANAGER):
        raise denial
    if not c.known:
        raise hidden(p, c.name, denial)
    if everywhere(p):
        return
    if not _all_hers(p, c):
        raise denial


def check_receiver(p: Principal, receiver: Staff, name: str) -> None:
    """Who receives a customer (a transfer, an approved claim): someone who holds books
    now (an active associate or manager); for a manager, one of her own store."""
    if not everywhere(p) and prefixed("stores", receiver.store_id) != p.store:
        raise deny(p, f"give customers to {name} of stores/{receiver.store_id}", resource=name)
    check_not_departed(receiver, name)
    if not holds_books(receiver):
        raise FailedPrecondition(
            f"{name} holds no book now (on leave, or headquarters staff)",
            reason="ASSOCIATE_NOT_ACTIVE",
            metadata={"associate": name},
        )


def check_claim(p: Principal) -> None:
    if p.role not in (Role.ASSOCIATE, Role.MANAGER) or not p.associate_id:
        raise deny(p, "claim customers: only associates hold a book")


def check_claim_customer(p: Principal, c: CustomerFacts) -> None:
    """Only staff of her home store claim a customer; one the service never heard of gets
    the same denial."""
    if not (c.known and c.home_store and c.home_store == p.store):
        raise deny(p, f"claim {c.name}", reason="CUSTOMER_OUT_OF_SCOPE", resource=c.name)


def _decide_denied(p: Principal, claim: str) -> PermissionDenied:
    return deny(p, f"decide {claim}", resource=claim)


def check_decide_claim(p: Principal, home_store: str, claim: str) -> None:
    """A claim is approved or rejected by the manager of the customer's home store, or
    headquarters."""
    if not manages(p, home_store):
        raise _decide_denied(p, claim)


def missing_claim(p: Principal, claim: str) -> AtelierError:
    """A claim that does not exist: store staff get the answer of one out of reach."""
    return hidden(p, claim, _decide_denied(p, claim))


def pool_scope(p: Principal) -> str | None:
    """Whose pool a caller lists: headquarters all of it (None), a manager the customers
    of her store (`stores/{id}`); associates none."""
    if everywhere(p):
        return None
    if p.role is Role.MANAGER and p.store:
        return p.store
    raise deny(p, "see the headquarters pool")


def check_book(p: Principal, parent_kind: str, parent: str, store: str) -> None:
    """An associate's book: herself, her store's manager, HQ. A store's: its manager, HQ."""
    if everywhere(p) or manages(p, store):
        return
    if parent_kind == "associates" and p.role is Role.ASSOCIATE and parent == f"associates/{p.associate_id}":
        return
    raise deny(p, f"see the book of {parent}", resource=parent)


# -- tasks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskScope:
    """The tasks a list may return: None means no limit on that axis."""

    associate: str | None = None
    store: str | None = None


def can_reach_task(p: Principal, associate_id: str, store_id: str) -> bool:
    if everywhere(p):
        return True
    if p.role is Role.MANAGER:
        return store_id == caller_store(p)
    return bool(p.associate_id) and associate_id == p.associate_id


def check_task(p: Principal, associate_id: str, store_id: str, resource: str) -> None:
    if not can_reach_task(p, associate_id, store_id):
        raise _out_of_reach(p, resource, "TASK_OUT_OF_SCOPE")


def missing(p: Principal, resource: str) -> AtelierError:
    """What store staff learn of a task that does not exist: the same as for one out of reach."""
    return hidden(p, resource, _out_of_reach(p, resource, "TASK_OUT_OF_SCOPE"))


def _mine(p: Principal) -> TaskScope:
    """The caller's own tasks; a caller without an associate id (headquarters, a manager's
    token without one) has none to list: the view is the request's mistake."""
    if not p.associate_id:
        raise invalid("view", "the caller is no associate (her token names no associate id): list a store or all")
    return TaskScope(associate=p.associate_id)


def list_scope(p: Principal, view: str, store: str) -> TaskScope:
    """view: "mine", "store", "all" or "" (the role's default)."""
    if p.role is Role.ASSOCIATE:
        if view in ("", "mine"):
            return _mine(p)
        raise PermissionDenied("associates list their own tasks", reason="ROLE_DENIED", metadata={"view": view})
    if p.role is Role.MANAGER:
        own = caller_store(p)
        if store and bare(store, "stores") != own:
            raise _out_of_reach(p, store, "STORE_OUT_OF_SCOPE")
        if view == "mine":
            return _mine(p)
        if view == "all":
            raise PermissionDenied(
                "managers list the tasks of their store", reason="ROLE_DENIED", metadata={"view": view}
            )
        return TaskScope(store=own)
    if view == "mine":
        return _mine(p)
    if view == "store" or store:
        return TaskScope(store=bare(store, "stores") or None)
    return TaskScope()


def check_create_task(p: Principal, associate_id: str, store_id: str) -> None:
    """Associates create tasks for themselves, managers within their store."""
    if everywhere(p):
        return
    if p.role is Role.MANAGER:
        if store_id != caller_store(p):
            raise _out_of_reach(p, f"stores/{store_id}", "STORE_OUT_OF_SCOPE")
        return
    if associate_id != p.associate_id or store_id != caller_store(p):
        raise PermissionDenied(
            "associates create tasks for themselves in their store",
            reason="ROLE_DENIED",
            metadata={"associate": f"associates/{associate_id}"},
        )


# -- figures and the attribution ledger -------------------------------------------------


@dataclass(frozen=True)
class FigureScope:
    """Whose figures: one associate, one store, or (both None) everything."""

    associate: str | None = None
    store: str | None = None


def parse_scope(scope: str) -> FigureScope | None:
    """None when the scope is neither empty, `associates/{id}` nor `stores/{id}`."""
    if not scope:
        return FigureScope()
    for collection in ("associates", "stores"):
        prefix = collection + "/"
        rest = scope[len(prefix) :]
        if scope.startswith(prefix) and rest and "/" not in rest:
            return FigureScope(associate=rest) if collection == "associates" else FigureScope(store=rest)
    return None


def default_figure_scope(p: Principal) -> FigureScope:
    """What store staff see when they name no scope: a manager her store, an associate
    herself; headquarters everything."""
    if everywhere(p):
        return FigureScope()
    if p.role is Role.MANAGER:
        return FigureScope(store=caller_store(p))
    return FigureScope(associate=p.associate_id)


def check_figures(p: Principal, scope: FigureScope, associate_store: str | None) -> None:
    """`associate_store`: the store of the associate asked about (None if unknown)."""
    if everywhere(p):
        return
    name = f"associates/{scope.associate}" if scope.associate else f"stores/{scope.store}" if scope.store else "*"
    if p.role is Role.MANAGER:
        own = caller_store(p)
        if scope.store == own or (scope.associate and associate_store == own):
            return
        raise _out_of_reach(p, name, "SCOPE_DENIED")
    if scope.associate and scope.associate == p.associate_id:
        return
    raise _out_of_reach(p, name, "SCOPE_DENIED")


def check_credit(p: Principal, credited: Staff | None, name: str) -> None:
    """Whom a correction credits (`name`: `associates/{id}`): an associate who exists
    (otherwise INVALID_ARGUMENT naming `associate`); for a manager, an active one of her
    own store. Headquarters credits any existing associate (also one who has left: the
    sale may be hers)."""
    if credited is None:
        raise invalid("associate", f"{name} does not exist")
    if everywhere(p):
        return
    if prefixed("stores", credited.store_id) != p.store:
        raise _out_of_reach(p, name, "SCOPE_DENIED")
    if credited.status != Status.ACTIVE:
        raise FailedPrecondition(
            f"{name} is not an active associate", reason="ASSOCIATE_NOT_ACTIVE", metadata={"associate": name}
        )


def check_correct(p: Principal, store_id: str, resource: str) -> None:
    """Corrections are for managers (their store's entries) and headquarters."""
    if everywhere(p):
        return
    if p.role is Role.MANAGER:
        if store_id != caller_store(p):
            raise _out_of_reach(p, resource, "SCOPE_DENIED")
        return
    raise PermissionDenied(
        "only managers and headquarters correct attributions", reason="ROLE_DENIED", metadata={"resource": resource}
    )
