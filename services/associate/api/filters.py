"""The `filter` of the directory's lists (small AIP-160 subsets):

ListStores:     region = "EMEA"
ListAssociates: store = "stores/paris" AND status = ASSOCIATE_STATUS_ACTIVE AND role = STAFF_ROLE_MANAGER
"""

from __future__ import annotations

from atelier.associate.v1 import associate_pb2
from servicekit import names
from servicekit.errors import invalid


def store_region(text: str) -> str | None:
    """The region a store list is filtered on; None for every store."""
    term = text.strip()
    if not term:
        return None
    if not (term.startswith("region") and "=" in term):
        raise invalid("filter", 'only region = "<region>" is supported')
    return term.split("=", 1)[1].strip().strip('"')


def associate_terms(text: str) -> dict[str, object]:
    """The column = value terms an associate list is filtered on."""
    out: dict[str, object] = {}
    if not text.strip():
        return out
    for term in text.strip().split(" AND "):
        if "=" not in term:
            raise invalid("filter", f'cannot read {term.strip()!r}; expected e.g. store = "stores/paris"')
        key, value = (p.strip().strip('"') for p in term.split("=", 1))
        try:
            if key == "store":
                out["store_id"] = names.parse(value, "stores", "filter")
            elif key == "status":
                out["status"] = associate_pb2.AssociateStatus.Value(value.upper())
            elif key == "role":
                out["role"] = associate_pb2.StaffRole.Value(value.upper())
            else:
                raise invalid("filter", f"unsupported term {term.strip()!r}; use store =, status =, role =")
        except ValueError:
            raise invalid("filter", f"unknown value {value!r} for {key}") from None
    return out
