"""Who holds whom, claims, hand-overs and the client book as contract messages."""

from __future__ import annotations

from decimal import Decimal

from google.type import money_pb2

from atelier.associate.v1 import assignment_pb2
from atelier.customer.v1 import customer_pb2
from atelier.events.v1 import associate_events_pb2 as ev
from servicekit.wire import to_money

from ..domain.assignment import Holding
from ..domain.names import prefixed
from ..storage.assignments import HistoryRow, PooledRow
from ..storage.book import BookRow
from ..storage.claims import ClaimRow
from ..storage.hand_overs import HandOverRow
from .timestamps import stamped

Role = ev.AssignmentRole.ValueType
Reason = ev.AssignmentReason.ValueType


def customer_assignment(customer_id: str, holding: Holding) -> assignment_pb2.CustomerAssignment:
    held = holding.primary is not None
    msg = assignment_pb2.CustomerAssignment(
        name=f"customers/{customer_id}/assignment",
        primary_associate=prefixed("associates", holding.primary),
        secondary_associates=[f"associates/{a}" for a in holding.secondaries],
        in_pool=holding.in_pool,
        reason=Reason((holding.primary_reason if held else holding.pool_reason) or 0),
    )
    return stamped(msg, since=holding.primary_since if held else holding.pool_since)


def pooled(row: PooledRow) -> assignment_pb2.CustomerAssignment:
    """A customer of the headquarters pool."""
    return customer_assignment(row.customer_id, Holding(None, None, None, (), row.reason, row.since))


def record(row: HistoryRow) -> assignment_pb2.AssignmentRecord:
    msg = assignment_pb2.AssignmentRecord(
        customer=f"customers/{row.customer_id}",
        role=Role(row.role),
        reason=Reason(row.reason),
        note=row.note,
        previous_associate=prefixed("associates", row.previous_associate),
        associate=prefixed("associates", row.associate),
        actor=row.actor,
    )
    return stamped(msg, change_time=row.change_time)


def claim(row: ClaimRow) -> assignment_pb2.Claim:
    msg = assignment_pb2.Claim(
        name=f"claims/{row.id}",
        customer=f"customers/{row.customer_id}",
        associate=f"associates/{row.associate_id}",
        reason=row.reason,
        state=assignment_pb2.Claim.State.ValueType(row.state),
        decision_note=row.decision_note,
        decided_by=row.decided_by,
    )
    return stamped(msg, create_time=row.create_time, decide_time=row.decide_time)


def hand_over(row: HandOverRow) -> assignment_pb2.HandOver:
    msg = assignment_pb2.HandOver(
        name=f"handOvers/{row.id}",
        associate=f"associates/{row.associate_id}",
        moved=row.moved,
        successor=prefixed("associates", row.successor_id),
        state=assignment_pb2.HandOver.State.ValueType(row.state),
    )
    return stamped(msg, create_time=row.create_time, done_time=row.done_time)


def _tier(number: int | None) -> str:
    return customer_pb2.Tier.Name(customer_pb2.Tier.ValueType(number)) if number in customer_pb2.Tier.values() else ""


def _money(amount: Decimal | None, currency: str | None) -> money_pb2.Money | None:
    return to_money(currency, amount) if amount is not None and currency else None


def book_entry(row: BookRow) -> assignment_pb2.BookEntry:
    msg = assignment_pb2.BookEntry(
        customer=f"customers/{row.customer_id}",
        given_name=row.given_name or "",
        family_name=row.family_name or "",
        preferred_name=row.preferred_name or "",
        home_store=row.home_store or "",
        tier=_tier(row.tier),
        tags=row.tags or [],
        associate=f"associates/{row.associate_id}",
        role=Role(row.role),
        order_count=row.order_count or 0,
        other_currency_orders=row.other_currency_orders or 0,
        next_task=prefixed("tasks", row.next_task_id),
        last_purchase_total=_money(row.last_purchase_total, row.last_purchase_currency),
        lifetime_value=_money(row.lifetime_value, row.currency),
    )
    return stamped(
        msg,
        last_purchase_time=row.last_purchase_time,
        last_contact_time=row.last_contact_time,
        next_task_due_time=row.next_task_due_time,
        upcoming_appointment_time=row.upcoming_appointment_time,
    )
