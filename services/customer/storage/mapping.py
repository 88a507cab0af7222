"""Rows to API messages."""

from __future__ import annotations

from datetime import datetime, timezone


from atelier.customer.v1 import customer_pb2
from servicekit.wire import etag, timestamp

from ..domain import computed_tags
from .customers import CustomerRow
from .purchase_mapping import purchase_stats
from .stats import parse as parse_stats


def customer(
    row: CustomerRow, rules: computed_tags.TagRules | None = None, now: datetime | None = None
) -> customer_pb2.Customer:
    """`rules` give the day counts of the time-based computed tags (defaults otherwise)."""
    msg = customer_pb2.Customer(
        name=f"customers/{row.id}",
        given_name=row.given_name,
        family_name=row.family_name,
        preferred_name=row.preferred_name,
        locale=row.locale,
        home_store=row.home_store,
        tier=row.tier,
        tags=row.tags,
        referral_code=row.referral_code,
        etag=etag(row.version),
    )
    for kind, value, primary in row.contacts:
        msg.contact_points.add(kind=kind, value=value, primary=primary)
    for channel, purpose, granted, source, actor, changed in sorted(row.consents, key=lambda c: (c[0], c[1])):
        msg.consents.add(
            channel=channel, purpose=purpose, granted=granted, source=source, actor=actor,
            update_time=timestamp(changed),
        )
    for pref in row.preferences:
        msg.preferences.add(category=pref["category"], value=pref["value"])
    for item in row.important_dates:
        date = msg.important_dates.add(kind=item["kind"], label=item.get("label", ""))
        date.date.year, date.date.month, date.date.day = item["year"], item["month"], item["day"]
    msg.create_time.CopyFrom(timestamp(row.create_time))
    msg.update_time.CopyFrom(timestamp(row.update_time))
    _purchase_figures(msg, row, rules or DEFAULT_RULES, now or datetime.now(timezone.utc))
    return msg


DEFAULT_RULES = computed_tags.TagRules()


def _purchase_figures(msg: customer_pb2.Customer, row: CustomerRow, rules, now: datetime) -> None:
    """Derived figures and computed tags: stored ones as stored, time-based ones derived
    from the stored first and last purchase dates at `now`."""
    stats = parse_stats(row.purchase_stats)
    if stats:
        msg.purchase_stats.CopyFrom(purchase_stats(stats))
    firsts = [s.first_purchase for s in stats if s.first_purchase]
    lasts = [s.last_purchase for s in stats if s.last_purchase]
    dated = computed_tags.dated_tags(min(firsts, default=None), max(lasts, default=None), rules, now)
    tags = [(tag, reason, since) for tag, reason, since in row.computed_tags]
    tags += [(t.tag, t.reason, t.since) for t in dated]
    for tag, reason, since in sorted(tags, key=lambda t: t[0]):
        msg.computed_tags.add(tag=tag, reason=reason, since=timestamp(since))
