"""Who may see and act on tasks, figures and the attribution ledger. Pure rules, no I/O.

An associate reaches her own tasks and figures, a manager everything of her store,
headquarters (and the platform's own services) everything. Store staff asking for
something out of reach, or something that does not exist, get the same
PERMISSION_DENIED (AIP-211), so ids of other stores cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass

from servicekit.auth import Principal, Role
from servicekit.errors import NotFound, PermissionDenied

_EVERYWHERE = (Role.HQ, Role.SERVICE)


def bare(name: str, collection: str) -> str:
    prefix = collection + "/"
    return name[len(prefix):] if name.startswith(prefix) else name


@dataclass(frozen=True)
class TaskScope:
    """The tasks a list may return: None means no limit on that axis."""

    associate: str | None = None
    store: str | None = None


def caller_store(principal: Principal) -> str:
    return bare(principal.store, "stores")


def everywhere(principal: Principal) -> bool:
    return principal.role in _EVERYWHERE


def _denied(principal: Principal, resource: str, reason: str = "TASK_OUT_OF_SCOPE") -> PermissionDenied:
    return PermissionDenied(
        f"{principal.subject} may not access {resource}", reason=reason, metadata={"resource": resource}
    )


def can_reach_task(principal: Principal, associate_id: str, store_id: str) -> bool:
    if everywhere(principal):
        return True
    if principal.role is Role.MANAGER:
        return store_id == caller_store(principal)
    return bool(principal.associate_id) and associate_id == principal.associate_id


def check_task(principal: Principal, associate_id: str, store_id: str, resource: str) -> None:
    if not can_reach_task(principal, associate_id, store_id):
        raise _denied(principal, resource)


def missing(principal: Principal, resource: str) -> Exception:
    if everywhere(principal):
        return NotFound(resource)
    return _denied(principal, resource)


def list_scope(principal: Principal, view: str, store: str) -> TaskScope:
    """view: "mine", "store", "all" or "" (the role's default)."""
    mine = TaskScope(associate=principal.associate_id or "\x00none")
    if principal.role is Role.ASSOCIATE:
        if view in ("", "mine"):
            return mine
        raise PermissionDenied(
            "associates list their own tasks", reason="ROLE_DENIED", metadata={"view": view}
        )
    if principal.role is Role.MANAGER:
        own = caller_store(principal)
        if store and bare(store, "stores") != own:
            raise _denied(principal, store, reason="STORE_OUT_OF_SCOPE")
        if view == "mine":
            return mine
        if view == "all":
            raise PermissionDenied(
                "managers list the tasks of their store", reason="ROLE_DENIED", metadata={"view": view}
            )
        return TaskScope(store=own)
    if view == "mine":
        return mine
    if view == "store" or store:
        return TaskScope(store=bare(store, "stores") or None)
    return TaskScope()


def check_create(principal: Principal, associate_id: str, store_id: str) -> None:
    """Associates create tasks for themselves, managers within their store."""
    if everywhere(principal):
        return
    if principal.role is Role.MANAGER:
        if store_id != caller_store(principal):
            raise _denied(principal, f"stores/{store_id}", reason="STORE_OUT_OF_SCOPE")
        return
    if associate_id != principal.associate_id or store_id != caller_store(principal):
        raise PermissionDenied(
            "associates create tasks for themselves in their store",
            reason="ROLE_DENIED",
            metadata={"associate": f"associates/{associate_id}"},
        )


@dataclass(frozen=True)
class FigureScope:
    """Whose figures: one associate, one store, or (both None) everything."""

    associate: str | None = None
    store: str | None = None


def parse_scope(scope: str) -> FigureScope | None:
    """None when the scope is neither empty, `associates/{id}` nor `stores/{id}`."""
    if not scope:
        return FigureScope()
    for collection, key in (("associates", "associate"), ("stores", "store")):
        prefix = collection + "/"
        if scope.startswith(prefix) and len(scope) > len(prefix) and "/" not in scope[len(prefix):]:
            return FigureScope(**{key: scope[len(prefix):]})
    return None


def check_figures(principal: Principal, scope: FigureScope, associate_store: str | None) -> None:
    """`associate_store`: the store of the associate asked about (None if unknown)."""
    if everywhere(principal):
        return
    name = (
        f"associates/{scope.associate}" if scope.associate else f"stores/{scope.store}" if scope.store else "*"
    )
    if principal.role is Role.MANAGER:
        own = caller_store(principal)
        if scope.store == own or (scope.associate and associate_store == own):
            return
        raise _denied(principal, name, reason="SCOPE_DENIED")
    if scope.associate and scope.associate == principal.associate_id:
        return
    raise _denied(principal, name, reason="SCOPE_DENIED")


def check_correct(principal: Principal, store_id: str, resource: str) -> None:
    """Corrections are for managers (their store's entries) and headquarters."""
    if everywhere(principal):
        return
    if principal.role is Role.MANAGER:
        if store_id != caller_store(principal):
            raise _denied(principal, resource, reason="SCOPE_DENIED")
        return
    raise PermissionDenied(
        "only managers and headquarters correct attributions", reason="ROLE_DENIED",
        metadata={"resource": resource},
    )
