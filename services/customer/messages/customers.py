"""Customer rows and domain values to contract messages."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from atelier.common.v1 import common_pb2
from atelier.customer.v1 import customer_pb2
from servicekit import wire

from ..domain import computed_tags, imports
from ..domain.consent import Answer
from ..domain.profile import ContactPoint
from ..storage.customers import CustomerRow
from ..storage.notes import NoteRow
from .purchases import purchase_stats


def customer(row: CustomerRow, rules: computed_tags.TagRules, now: datetime | None = None) -> customer_pb2.Customer:
    """`rules` give the day counts of the time-based computed tags."""
    msg = customer_pb2.Customer(
        name=f"customers/{row.id}",
        given_name=row.given_name,
        family_name=row.family_name,
        preferred_name=row.preferred_name,
        locale=row.locale,
        home_store=row.home_store,
        tier=customer_pb2.Tier.ValueType(row.tier),
        tags=row.tags,
        referral_code=row.referral_code,
        etag=wire.etag(row.version),
    )
    _profile_lists(msg, row.contacts, row.preferences, row.important_dates)
    for answer in sorted(row.consents, key=lambda a: (a.channel, a.purpose)):
        msg.consents.append(consent(answer))
    msg.create_time.CopyFrom(wire.timestamp(row.create_time))
    msg.update_time.CopyFrom(wire.timestamp(row.update_time))
    _purchase_figures(msg, row, rules, now or datetime.now(UTC))
    return msg


def _profile_lists(
    msg: customer_pb2.Customer,
    contact_points: Iterable[ContactPoint],
    preferences: list[dict[str, str]],
    important_dates: list[dict[str, Any]],
) -> None:
    for c in contact_points:
        msg.contact_points.add(kind=c.kind, value=c.value, primary=c.primary)
    for pref in preferences:
        msg.preferences.add(category=pref["category"], value=pref["value"])
    for item in important_dates:
        date = msg.important_dates.add(kind=item["kind"], label=item.get("label", ""))
        date.date.year, date.date.month, date.date.day = item["year"], item["month"], item["day"]


def _purchase_figures(
    msg: customer_pb2.Customer, row: CustomerRow, rules: computed_tags.TagRules, now: datetime
) -> None:
    """Derived figures and computed tags: stored ones as stored, time-based ones derived
    from the stored first and last purchase dates at `now`."""
    stats = row.purchase_stats
    if stats:
        msg.purchase_stats.CopyFrom(purchase_stats(stats))
    firsts = [s.first_purchase for s in stats if s.first_purchase]
    lasts = [s.last_purchase for s in stats if s.last_purchase]
    dated = computed_tags.dated_tags(min(firsts, default=None), max(lasts, default=None), rules, now)
    for tag in sorted([*row.computed_tags, *dated], key=lambda t: t.tag):
        item = msg.computed_tags.add(tag=tag.tag, reason=tag.reason)
        if tag.since is not None:
            item.since.CopyFrom(wire.timestamp(tag.since))


def consent(answer: Answer) -> customer_pb2.Consent:
    """Her current answer for a channel × purpose."""
    msg = customer_pb2.Consent(update_time=wire.timestamp(answer.change_time))
    _answer(msg, answer)
    return msg


def consent_change(answer: Answer) -> customer_pb2.ConsentChange:
    """One answer of her consent history."""
    msg = customer_pb2.ConsentChange(change_time=wire.timestamp(answer.change_time))
    _answer(msg, answer)
    return msg


def _answer(msg: customer_pb2.Consent | customer_pb2.ConsentChange, answer: Answer) -> None:
    msg.channel = common_pb2.Channel.ValueType(answer.channel)
    msg.purpose = common_pb2.Purpose.ValueType(answer.purpose)
    msg.granted = answer.granted
    msg.source = answer.source
    msg.actor = answer.actor


def note(parent: str, row: NoteRow) -> customer_pb2.Note:
    return customer_pb2.Note(
        name=f"{parent}/notes/{row.id}", text=row.text, author=row.author, create_time=wire.timestamp(row.create_time)
    )


def imported(
    customer_id: str, row: imports.ImportRow, create_time: datetime, update_time: datetime
) -> customer_pb2.Customer:
    """A customer created by an import as GetCustomer shows her (no consents, purchases or
    tags computed yet), built from the imported values without a read back."""
    v = row.values
    msg = customer_pb2.Customer(
        name=f"customers/{customer_id}",
        given_name=v.get("given_name", ""),
        family_name=v.get("family_name", ""),
        preferred_name=v.get("preferred_name", ""),
        locale=v.get("locale", ""),
        home_store=v.get("home_store", ""),
        tier=customer_pb2.Tier.ValueType(v.get("tier", 0)),
        tags=v.get("tags", []),
        referral_code=row.referral_code,
        etag=wire.etag(1),
    )
    _profile_lists(msg, v.get("contact_points", []), v.get("preferences", []), v.get("important_dates", []))
    msg.create_time.FromDatetime(create_time)
    msg.update_time.FromDatetime(update_time)
    return msg
