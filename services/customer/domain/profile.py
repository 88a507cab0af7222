"""The writable part of a customer: validated and normalised from the API message.

Every rule that decides whether a profile is acceptable lives here, without I/O, so it is
tested without a database. Violations name the field as the caller spelled it
(`customer.contact_points[1].value`).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from typing import Any

from atelier.customer.v1 import customer_pb2
from servicekit.errors import Violations

from . import contacts

UPDATABLE = (
    "given_name",
    "family_name",
    "preferred_name",
    "locale",
    "home_store",
    "tier",
    "contact_points",
    "preferences",
    "important_dates",
    "tags",
)
OUTPUT_ONLY = (
    "name", "consents", "referral_code", "etag", "create_time", "update_time", "purchase_stats", "computed_tags",
)

_LOCALE = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")
_STORE = re.compile(r"^stores/[a-z0-9][a-z0-9-]{0,62}$")
_TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_REFERRAL = re.compile(r"^[A-Za-z0-9-]{4,32}$")
# Enum wrappers build a new list on every values() call; bulk import validates per row.
_TIERS = frozenset(customer_pb2.Tier.values())
_CONTACT_KINDS = frozenset(customer_pb2.ContactKind.values())
_DATE_KINDS = frozenset(customer_pb2.ImportantDateKind.values())
MAX_NAME = 100
MAX_TAGS = 50
MAX_ITEMS = 50


@dataclass(frozen=True)
class ContactPoint:
    kind: int
    value: str
    primary: bool


def read(
    msg: customer_pb2.Customer, paths: tuple[str, ...], prefix: str, violations: Violations
) -> dict[str, Any]:
    """Validate and normalise the given fields of `msg`; returns column → value."""
    out: dict[str, Any] = {}
    at = lambda f: f"{prefix}{f}"  # noqa: E731 - tiny formatter for field paths
    for name in ("given_name", "family_name", "preferred_name"):
        if name in paths:
            value = " ".join(getattr(msg, name).split())
            violations.require(len(value) <= MAX_NAME, at(name), f"at most {MAX_NAME} characters")
            out[name] = value
    if "locale" in paths:
        violations.require(
            not msg.locale or bool(_LOCALE.match(msg.locale)), at("locale"), "a BCP-47 tag such as fr-FR"
        )
        out["locale"] = msg.locale
    if "home_store" in paths:
        violations.require(
            not msg.home_store or bool(_STORE.match(msg.home_store)),
            at("home_store"),
            "a store name such as stores/paris-faubourg",
        )
        out["home_store"] = msg.home_store
    if "tier" in paths:
        violations.require(msg.tier in _TIERS, at("tier"), "unknown tier")
        out["tier"] = int(msg.tier)
    if "contact_points" in paths:
        out["contact_points"] = _contact_points(msg, at("contact_points"), violations)
    if "preferences" in paths:
        out["preferences"] = _preferences(msg, at("preferences"), violations)
    if "important_dates" in paths:
        out["important_dates"] = _important_dates(msg, at("important_dates"), violations)
    if "tags" in paths:
        out["tags"] = _tags(msg, at("tags"), violations)
    return out


def check_new(values: dict[str, Any], msg: customer_pb2.Customer, prefix: str, violations: Violations) -> None:
    """Rules for a customer being created, beyond the per-field ones."""
    if not (values.get("given_name") or values.get("family_name")):
        violations.add(f"{prefix}given_name", "a customer needs a given or a family name")
    if msg.referral_code and not _REFERRAL.match(msg.referral_code):
        violations.add(f"{prefix}referral_code", "4-32 letters, digits or -")


def _contact_points(msg, path: str, violations: Violations) -> list[ContactPoint]:
    region = contacts.region_of(msg.locale)
    seen: set[tuple[int, str]] = set()
    result: list[ContactPoint] = []
    primaries: set[int] = set()
    violations.require(len(msg.contact_points) <= MAX_ITEMS, path, f"at most {MAX_ITEMS}")
    for i, cp in enumerate(msg.contact_points):
        if cp.kind not in _CONTACT_KINDS or cp.kind == 0:
            violations.add(f"{path}[{i}].kind", "required: one of EMAIL, PHONE, WECHAT, WHATSAPP, LINE")
            continue
        try:
            value = contacts.normalise(cp.kind, cp.value, region)
        except contacts.InvalidContact as exc:
            violations.add(f"{path}[{i}].value", str(exc))
            continue
        if (cp.kind, value) in seen:
            violations.add(f"{path}[{i}].value", "listed twice")
            continue
        if cp.primary and cp.kind in primaries:
            violations.add(f"{path}[{i}].primary", "only one primary contact point per kind")
        seen.add((cp.kind, value))
        if cp.primary:
            primaries.add(cp.kind)
        result.append(ContactPoint(cp.kind, value, cp.primary))
    # The first contact point of a kind is its primary unless another one says so.
    return [
        ContactPoint(c.kind, c.value, c.primary or (c.kind not in primaries and _first_of_kind(result, c)))
        for c in result
    ]


def _first_of_kind(points: list[ContactPoint], point: ContactPoint) -> bool:
    return next(p for p in points if p.kind == point.kind) is point


def _preferences(msg, path: str, violations: Violations) -> list[dict[str, str]]:
    result, seen = [], set()
    violations.require(len(msg.preferences) <= MAX_ITEMS, path, f"at most {MAX_ITEMS}")
    for i, pref in enumerate(msg.preferences):
        category = pref.category.strip().lower()
        value = " ".join(pref.value.split())
        if not _CATEGORY.match(category):
            violations.add(f"{path}[{i}].category", "lower-case words joined by _, e.g. ring_size")
            continue
        if not value or len(value) > MAX_NAME:
            violations.add(f"{path}[{i}].value", f"1-{MAX_NAME} characters")
            continue
        if (category, value.lower()) not in seen:
            seen.add((category, value.lower()))
            result.append({"category": category, "value": value})
    return result


def _important_dates(msg, path: str, violations: Violations) -> list[dict[str, Any]]:
    result = []
    violations.require(len(msg.important_dates) <= MAX_ITEMS, path, f"at most {MAX_ITEMS}")
    for i, item in enumerate(msg.important_dates):
        if item.kind not in _DATE_KINDS or item.kind == 0:
            violations.add(f"{path}[{i}].kind", "required: BIRTHDAY, ANNIVERSARY or OTHER")
            continue
        d = item.date
        # Year 0 means "not known"; February 29 is then a valid birthday.
        days = calendar.monthrange(d.year or 2000, d.month)[1] if 1 <= d.month <= 12 else 0
        if not (1 <= d.month <= 12 and 1 <= d.day <= days) or not (d.year == 0 or 1900 <= d.year <= 2100):
            violations.add(f"{path}[{i}].date", "not a calendar date")
            continue
        if len(item.label) > MAX_NAME:
            violations.add(f"{path}[{i}].label", f"at most {MAX_NAME} characters")
            continue
        result.append({"kind": int(item.kind), "year": d.year, "month": d.month, "day": d.day, "label": item.label})
    return result


def _tags(msg, path: str, violations: Violations) -> list[str]:
    result: list[str] = []
    violations.require(len(msg.tags) <= MAX_TAGS, path, f"at most {MAX_TAGS}")
    for i, raw in enumerate(msg.tags):
        tag = raw.strip().lower()
        if not _TAG.match(tag):
            violations.add(f"{path}[{i}]", "lower-case letters, digits and -, at most 40")
        elif tag not in result:
            result.append(tag)
    return result


def search_text(values: dict[str, Any]) -> str:
    """What SearchCustomers matches against: names and every contact point, lower-case."""
    parts = [values.get("given_name", ""), values.get("family_name", ""), values.get("preferred_name", "")]
    parts += [contacts.search_terms(c.kind, c.value) for c in values.get("contact_points", [])]
    return " ".join(p for p in parts if p).lower()
