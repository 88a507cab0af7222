"""Rows to API messages."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from google.type import money_pb2

from atelier.associate.v1 import assignment_pb2, associate_pb2, store_pb2
from atelier.customer.v1 import customer_pb2
from servicekit.wire import etag, timestamp, to_money


def money(amount: Decimal | None, currency: str) -> money_pb2.Money | None:
    if amount is None or not currency:
        return None
    return to_money(currency, amount)


def store(row) -> store_pb2.Store:
    msg = store_pb2.Store(
        name=f"stores/{row.id}", code=row.code, display_name=row.display_name, time_zone=row.time_zone,
        region=row.region, etag=etag(row.version),
    )
    for h in row.weekly_hours:
        item = msg.weekly_hours.add(day=h["day"])
        item.open_time.hours, item.open_time.minutes = divmod(h["open"], 60)
        item.close_time.hours, item.close_time.minutes = divmod(h["close"], 60)
    for e in row.exceptions:
        day = date.fromisoformat(e["date"])
        item = msg.exceptions.add(closed=e["closed"], label=e["label"])
        item.date.year, item.date.month, item.date.day = day.year, day.month, day.day
        if not e["closed"]:
            item.open_time.hours, item.open_time.minutes = divmod(e["open"], 60)
            item.close_time.hours, item.close_time.minutes = divmod(e["close"], 60)
    msg.create_time.CopyFrom(timestamp(row.create_time))
    msg.update_time.CopyFrom(timestamp(row.update_time))
    return msg


def associate(row) -> associate_pb2.Associate:
    msg = associate_pb2.Associate(
        name=f"associates/{row.id}", store=f"stores/{row.store_id}", display_name=row.display_name,
        role=row.role, status=row.status, languages=row.languages, specialities=row.specialities,
        capacity=row.capacity, referral_code=row.referral_code, book_size=row.book_size, etag=etag(row.version),
    )
    msg.create_time.CopyFrom(timestamp(row.create_time))
    msg.update_time.CopyFrom(timestamp(row.update_time))
    return msg


def prefixed(collection: str, value: str | None) -> str:
    return f"{collection}/{value}" if value else ""


def customer_assignment(customer_id: str, holding) -> assignment_pb2.CustomerAssignment:
    msg = assignment_pb2.CustomerAssignment(
        name=f"customers/{customer_id}/assignment",
        primary_associate=prefixed("associates", holding.primary),
        secondary_associates=[f"associates/{a}" for a in holding.secondaries],
        in_pool=holding.in_pool,
        reason=(holding.primary_reason if holding.primary else holding.pool_reason) or 0,
    )
    since = holding.primary_since if holding.primary else holding.pool_since
    if since is not None:
        msg.since.CopyFrom(timestamp(since))
    return msg


def record(row) -> assignment_pb2.AssignmentRecord:
    msg = assignment_pb2.AssignmentRecord(
        customer=f"customers/{row.customer_id}", role=row.role,
        previous_associate=prefixed("associates", row.previous_associate),
        associate=prefixed("associates", row.associate), reason=row.reason, note=row.note, actor=row.actor,
    )
    msg.change_time.CopyFrom(timestamp(row.change_time))
    return msg


def claim(row) -> assignment_pb2.Claim:
    msg = assignment_pb2.Claim(
        name=f"claims/{row.id}", customer=f"customers/{row.customer_id}", associate=f"associates/{row.associate_id}",
        reason=row.reason, state=row.state, decision_note=row.decision_note, decided_by=row.decided_by,
    )
    msg.create_time.CopyFrom(timestamp(row.create_time))
    if row.decide_time is not None:
        msg.decide_time.CopyFrom(timestamp(row.decide_time))
    return msg


def hand_over(row) -> assignment_pb2.HandOver:
    msg = assignment_pb2.HandOver(
        name=f"handOvers/{row.id}", associate=f"associates/{row.associate_id}",
        successor=prefixed("associates", row.successor_id), state=row.state, moved=row.moved,
    )
    msg.create_time.CopyFrom(timestamp(row.create_time))
    if row.done_time is not None:
        msg.done_time.CopyFrom(timestamp(row.done_time))
    return msg


def book_entry(row) -> assignment_pb2.BookEntry:
    msg = assignment_pb2.BookEntry(
        customer=f"customers/{row.customer_id}", given_name=row.given_name or "", family_name=row.family_name or "",
        preferred_name=row.preferred_name or "", home_store=row.home_store or "",
        tier=customer_pb2.Tier.Name(row.tier) if row.tier in customer_pb2.Tier.values() else "",
        tags=row.tags or [], associate=f"associates/{row.associate_id}", role=row.role,
        order_count=row.order_count or 0, other_currency_orders=row.other_currency_orders or 0,
        next_task=prefixed("tasks", row.next_task_id),
    )
    for field_name, value in (
        ("last_purchase_time", row.last_purchase_time),
        ("last_contact_time", row.last_contact_time),
        ("next_task_due_time", row.next_task_due_time),
        ("upcoming_appointment_time", row.upcoming_appointment_time),
    ):
        if value is not None:
            getattr(msg, field_name).CopyFrom(timestamp(value))
    last = money(row.last_purchase_total, row.last_purchase_currency or "")
    if last is not None:
        msg.last_purchase_total.CopyFrom(last)
    ltv = money(row.lifetime_value, row.currency or "")
    if ltv is not None:
        msg.lifetime_value.CopyFrom(ltv)
    return msg
