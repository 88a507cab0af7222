"""Who may run the operations that touch many customers or a person's data as a whole:
bulk import, segment streaming, merge, export, erasure and the audit trail. Pure rules,
no I/O.

- Import, streaming, merge and unmerge change or reveal the whole customer base: only
  headquarters and internal services (the campaign service resolving an audience).
- Erasure is irreversible and a legal act: headquarters only (and internal services
  acting on a request received elsewhere).
- Export (the data subject's copy, GDPR art. 15/20): headquarters, internal services,
  and the manager of the customer's home store — a client asking in the boutique is
  answered there; associates never export.
- The audit trail of personal-data reads: headquarters only.
"""

from __future__ import annotations

from servicekit.auth import Principal, Role
from servicekit.errors import PermissionDenied

from .access import Reach, check_read

_CENTRAL = (Role.HQ, Role.SERVICE)


def _deny(principal: Principal, what: str, allowed: str) -> PermissionDenied:
    return PermissionDenied(
        f"{principal.role.value} may not {what}; {allowed} only",
        reason="ROLE_DENIED",
        metadata={"role": principal.role.value, "operation": what},
    )


def check_import(principal: Principal) -> None:
    if principal.role not in _CENTRAL:
        raise _deny(principal, "import customers", "headquarters")


def check_stream(principal: Principal) -> None:
    if principal.role not in _CENTRAL:
        raise _deny(principal, "stream customer segments", "headquarters and internal services")


def check_merge(principal: Principal) -> None:
    if principal.role is not Role.HQ:
        raise _deny(principal, "merge customers", "headquarters")


def check_find_duplicates(principal: Principal) -> None:
    if principal.role not in _CENTRAL:
        raise _deny(principal, "look for duplicates", "headquarters")


def check_export(principal: Principal, reach: Reach, resource: str) -> None:
    if principal.role in _CENTRAL:
        return
    if principal.role is Role.MANAGER:
        check_read(principal, reach, resource)
        return
    raise _deny(principal, "export a customer's data", "headquarters and the home store's manager")


def check_erase(principal: Principal) -> None:
    if principal.role not in _CENTRAL:
        raise _deny(principal, "erase a customer", "headquarters")


def check_audit(principal: Principal) -> None:
    if principal.role is not Role.HQ:
        raise _deny(principal, "read the audit trail", "headquarters")
