"""Rows of a bulk import: validation (the same rules as CreateCustomer) and the folding
of rows that describe the same person. Pure, so tested without a database.

Two rows are the same person when they share a normalised contact point; the first row
(lowest row number) leads and the later ones fold into it. Folding never overwrites:
blank scalar fields are filled, lists (contact points, tags, preferences, dates) are
unioned in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from servicekit.errors import Violations

from . import directory, profile

MAX_ROWS = 5000
BATCH_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
_SCALARS = ("given_name", "family_name", "preferred_name", "locale", "home_store")
_LISTS = ("tags", "preferences", "important_dates")


@dataclass
class ImportRow:
    row_number: int
    customer_id: str
    referral_code: str
    values: dict[str, Any]
    # Row numbers of later rows folded into this one.
    folded: list[int] = field(default_factory=list)

    def contact_keys(self) -> list[tuple[int, str]]:
        return [(c.kind, c.value) for c in self.values.get("contact_points", [])]


@dataclass(frozen=True)
class Rejected:
    row_number: int
    violations: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class RowInput:
    """A row of an import batch as the request spells it."""

    row_number: int
    customer_id: str
    customer: profile.ProfileInput


@dataclass(frozen=True)
class Batch:
    """One message of an import stream: its keys and its rows, not yet validated."""

    import_id: str
    batch_id: str
    rows: Sequence[RowInput]


def check_batch(import_id: str, batch_id: str, row_count: int, stream_import_id: str | None) -> None:
    """The keys of a batch; `stream_import_id` is the import id of the stream's earlier batches."""
    violations = Violations()
    violations.require(bool(BATCH_KEY.match(import_id)), "import_id", "1-100 characters of A-Z a-z 0-9 . _ : -")
    if stream_import_id is not None and import_id != stream_import_id:
        violations.add("import_id", "every message of one stream carries the same import id")
    violations.require(bool(BATCH_KEY.match(batch_id)), "batch_id", "1-100 characters of A-Z a-z 0-9 . _ : -")
    violations.require(row_count <= MAX_ROWS, "rows", f"at most {MAX_ROWS} rows per batch")
    violations.raise_if_any()


def validate(rows: Iterable[RowInput]) -> tuple[list[ImportRow], list[Rejected]]:
    """Rows that may be loaded, and the others with every reason."""
    good: list[ImportRow] = []
    bad: list[Rejected] = []
    ids: set[str] = set()
    for row in rows:
        violations = Violations()
        values = profile.read(row.customer, profile.UPDATABLE, "customer.", violations)
        profile.check_new(values, row.customer.referral_code, "customer.", violations)
        if profile.check_customer_id(row.customer_id, violations) and row.customer_id in ids:
            violations.add("customer_id", "used by an earlier row of this batch")
        if violations:
            bad.append(Rejected(row.row_number, violations.items))
            continue
        if row.customer_id:
            ids.add(row.customer_id)
        good.append(ImportRow(row.row_number, row.customer_id, row.customer.referral_code, values))
    return good, bad


def check_references(rows: list[ImportRow], known: directory.Known) -> tuple[list[ImportRow], list[Rejected]]:
    """Rows whose home store and referral code the directory knows (none given is fine),
    and the others, rejected naming the field (as CreateCustomer would refuse them)."""
    good: list[ImportRow] = []
    bad: list[Rejected] = []
    for row in rows:
        violations = Violations()
        directory.check_home_store(row.values.get("home_store", ""), known, "customer.home_store", violations)
        directory.check_referral_code(row.referral_code, known, "customer.referral_code", violations)
        if violations:
            bad.append(Rejected(row.row_number, violations.items))
        else:
            good.append(row)
    return good, bad


def fold_batch(rows: list[ImportRow]) -> list[ImportRow]:
    """Leads of the batch, each with the later rows sharing a contact point folded in
    (transitively: A~B and B~C make one person)."""
    ordered = sorted(rows, key=lambda r: r.row_number)
    parent = list(range(len(ordered)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[int, str], int] = {}
    for i, row in enumerate(ordered):
        for key in row.contact_keys():
            if key in owner:
                a, b = root(owner[key]), root(i)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                owner[key] = i
    leads: dict[int, ImportRow] = {}
    for i, row in enumerate(ordered):
        r = root(i)
        if r == i:
            leads[i] = row
        else:
            fold_into(leads[r], row)
    return list(leads.values())


def fold_into(lead: ImportRow, other: ImportRow) -> None:
    lead.folded.append(other.row_number)
    lead.folded.extend(other.folded)
    fold_values(lead.values, other.values)
    lead.referral_code = lead.referral_code or other.referral_code


def fold_values(into: dict[str, Any], other: dict[str, Any]) -> None:
    for name in _SCALARS:
        if not into.get(name) and other.get(name):
            into[name] = other[name]
    if not into.get("tier") and other.get("tier"):
        into["tier"] = other["tier"]
    for name in _LISTS:
        current = into.setdefault(name, [])
        for item in other.get(name, []):
            if item not in current:
                current.append(item)
    points = into.setdefault("contact_points", [])
    kinds_with_primary = {c.kind for c in points if c.primary}
    taken = {(c.kind, c.value) for c in points}
    for c in other.get("contact_points", []):
        if (c.kind, c.value) not in taken:
            taken.add((c.kind, c.value))
            points.append(profile.ContactPoint(c.kind, c.value, c.primary and c.kind not in kinds_with_primary))
            if c.primary:
                kinds_with_primary.add(c.kind)


def rejected_as_taken(row: ImportRow) -> list[Rejected]:
    """A new row whose chosen customer id already exists is rejected, and so are the rows
    folded into it."""
    shares = f"shares a contact point with rejected row {row.row_number}"
    return [
        Rejected(row.row_number, [("customer_id", "already exists")]),
        *(Rejected(n, [("customer.contact_points", shares)]) for n in row.folded),
    ]
