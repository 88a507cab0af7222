"""Associate fields and referral codes, validated without I/O."""

from __future__ import annotations

import re
import secrets

from atelier.associate.v1 import associate_pb2
from servicekit import names
from servicekit.errors import Violations

StaffRole = associate_pb2.StaffRole
Status = associate_pb2.AssociateStatus

ASSOCIATE = StaffRole.STAFF_ROLE_ASSOCIATE
MANAGER = StaffRole.STAFF_ROLE_MANAGER
HQ = StaffRole.STAFF_ROLE_HQ
ACTIVE = Status.ASSOCIATE_STATUS_ACTIVE
ON_LEAVE = Status.ASSOCIATE_STATUS_ON_LEAVE
DEPARTED = Status.ASSOCIATE_STATUS_DEPARTED

UPDATABLE = ("store", "display_name", "role", "status", "languages", "specialities", "capacity")
# What an associate may change on her own record.
SELF_SERVICE = frozenset({"display_name", "languages", "specialities"})
OUTPUT_ONLY = ("name", "referral_code", "book_size", "create_time", "update_time", "etag")

MAX_CAPACITY = 100_000
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_SPECIALITY = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")

# No 0/O or 1/I/L: the code is read off a printed card.
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8


def new_referral_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_referral_code(value: str) -> str:
    return value.strip().upper().replace("-", "").replace(" ", "")


def read(associate: associate_pb2.Associate, paths: tuple[str, ...], prefix: str, violations: Violations) -> dict:
    out: dict = {}
    if "store" in paths:
        try:
            out["store_id"] = names.parse(associate.store, "stores", prefix + "store")
        except Exception as exc:
            violations.items.extend(exc.violations)
    if "display_name" in paths:
        name = associate.display_name.strip()
        violations.require(0 < len(name) <= 120, prefix + "display_name", "required, at most 120 characters")
        out["display_name"] = name
    if "role" in paths:
        violations.require(
            associate.role in (ASSOCIATE, MANAGER, HQ), prefix + "role", "required: associate, manager or hq"
        )
        out["role"] = associate.role
    if "status" in paths:
        violations.require(
            associate.status in (ACTIVE, ON_LEAVE),
            prefix + "status",
            "active or on leave; departures go through DepartAssociate, which hands the book over",
        )
        out["status"] = associate.status
    if "languages" in paths:
        for i, lang in enumerate(associate.languages):
            violations.require(bool(_LANGUAGE.match(lang)), f"{prefix}languages[{i}]", "a BCP-47 tag such as fr or zh-Hans")
        out["languages"] = list(dict.fromkeys(associate.languages))
    if "specialities" in paths:
        for i, spec in enumerate(associate.specialities):
            violations.require(
                bool(_SPECIALITY.match(spec)), f"{prefix}specialities[{i}]", "lower-case words joined by -, e.g. high-jewellery"
            )
        out["specialities"] = list(dict.fromkeys(associate.specialities))
    if "capacity" in paths:
        violations.require(
            0 <= associate.capacity <= MAX_CAPACITY, prefix + "capacity", f"between 0 and {MAX_CAPACITY}"
        )
        out["capacity"] = associate.capacity
    return out


def mask_paths(mask_paths_: list[str], violations: Violations) -> set[str]:
    paths = set(mask_paths_)
    if not paths:
        violations.add("update_mask", "required: the fields to change, or * for all")
        return set()
    if "*" in paths:
        return set(UPDATABLE)
    for path in sorted(paths):
        if path in OUTPUT_ONLY:
            violations.add("update_mask", f"{path} cannot be changed")
        elif path not in UPDATABLE:
            violations.add("update_mask", f"unknown field {path}")
    return paths & set(UPDATABLE)
