"""Associates (staff): roles, statuses, the fields a request may change, referral codes."""

from __future__ import annotations

import re
import secrets
from enum import IntEnum
from typing import Protocol

from servicekit.errors import Aborted, FailedPrecondition


class StaffRole(IntEnum):
    """The contract's StaffRole numbers (also stored)."""

    ASSOCIATE = 1
    MANAGER = 2
    HQ = 3


class Status(IntEnum):
    """The contract's AssociateStatus numbers (also stored)."""

    ACTIVE = 1
    ON_LEAVE = 2
    DEPARTED = 3


class Staff(Protocol):
    """What the rules read of an associate's record."""

    @property
    def id(self) -> str: ...
    @property
    def store_id(self) -> str: ...
    @property
    def role(self) -> int: ...
    @property
    def status(self) -> int: ...


UPDATABLE = ("store", "display_name", "role", "status", "languages", "specialities", "capacity")
# What an associate may change on her own record.
SELF_SERVICE = frozenset({"display_name", "languages", "specialities"})
OUTPUT_ONLY = ("name", "referral_code", "book_size", "create_time", "update_time", "etag")
# A status set by a request: departures go through DepartAssociate, which hands the book over.
SETTABLE_STATUSES = (Status.ACTIVE, Status.ON_LEAVE)

MAX_CAPACITY = 100_000
MAX_DISPLAY_NAME = 120
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
SPECIALITY = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")

# No 0/O or 1/I/L: the code is read off a printed card.
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8


def new_referral_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_referral_code(value: str) -> str:
    return value.strip().upper().replace("-", "").replace(" ", "")


# The roles that hold books: associates and managers (headquarters staff hold none).
BOOK_HOLDERS = (StaffRole.ASSOCIATE, StaffRole.MANAGER)


def holds_books(staff: Staff) -> bool:
    """Active associates and managers hold books (and may receive customers)."""
    return staff.status == Status.ACTIVE and staff.role in BOOK_HOLDERS


def departed(staff: Staff) -> bool:
    return staff.status == Status.DEPARTED


def check_not_departed(staff: Staff, name: str) -> None:
    """Customers go only to associates who still work here."""
    if departed(staff):
        raise FailedPrecondition(f"{name} has departed", reason="ASSOCIATE_DEPARTED", metadata={"associate": name})


def check_changeable(staff: Staff, name: str) -> None:
    """A departed associate's record is final (her book went through a hand-over)."""
    if departed(staff):
        raise Aborted(f"{name} has departed", reason="ASSOCIATE_DEPARTED", metadata={"resource": name})
