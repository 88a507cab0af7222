"""Reading requests: wire messages to the plain values the domain and the use cases take.

These functions copy fields off the wire, resolve resource names and page tokens and read
the call's metadata; whether a value is acceptable is for the rules in domain/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf import timestamp_pb2
from google.protobuf.message import Message
from google.type import money_pb2

from atelier.customer.v1 import (
    customer_pb2,
    customer_service_pb2,
    interaction_pb2,
    purchase_pb2,
    purchase_service_pb2,
    segment_pb2,
)
from servicekit import context, names, paging
from servicekit.errors import Violations, invalid
from servicekit.paging import Page

from ..domain import imports
from ..domain.interactions import InteractionInput
from ..domain.money import Price
from ..domain.profile import ContactPoint, ImportantDate, Preference, ProfileInput
from ..domain.purchases import LineInput, PurchaseInput, ReturnInput
from ..domain.segments import LifetimeValueInput, SegmentInput
from ..usecases.audit_trail import ReadAudit

Context = grpc.aio.ServicerContext[Any, Any]

PURPOSE_METADATA_KEY = "x-atelier-purpose"
MAX_PURPOSE = 200


# -- names and pages -------------------------------------------------------------


def customer_id(name: str, field: str, violations: Violations) -> str:
    """The id in `customers/{id}`; "" with the violation collected when it is not one."""
    return violations.take(names.parse, name, "customers", field) or ""


def purchase_name(name: str, field: str) -> tuple[str, str]:
    """(customer id, purchase id) of `customers/{customer}/purchases/{purchase}`."""
    parent, sep, rest = name.partition("/purchases/")
    if not sep:
        raise invalid(field, "required, e.g. customers/<id>/purchases/<id>")
    return names.parse(parent, "customers", field), names.parse(f"purchases/{rest}", "purchases", field)


def page(size: int, token: str, query: str, shape: tuple[type, ...]) -> Page:
    """The page a list asks for once its size is known (paging.page_size raised otherwise):
    its token must belong to `query` and hold a position of `shape`."""
    return Page(size, paging.decode(token, query, shape=shape), query)


def child_page(parent: str, page_size: int, page_token: str, shape: tuple[type, ...]) -> tuple[str, Page]:
    """The customer (`parent`) whose items a list pages through, and the page it asks for."""
    customer = names.parse(parent, "customers", "parent")
    return customer, page(paging.page_size(page_size), page_token, parent, shape)


def time_of(message: Message, field: str) -> datetime | None:
    """A Timestamp field as a UTC datetime; None when the message does not set it."""
    if not message.HasField(field):
        return None
    stamp: timestamp_pb2.Timestamp = getattr(message, field)
    return stamp.ToDatetime(tzinfo=UTC)


# -- the reader of personal data ---------------------------------------------------


def read_audit(ctx: Context, action: str) -> ReadAudit:
    """Who reads and why: the caller's `x-atelier-purpose` metadata, else the RPC's name."""
    purpose = action
    for key, value in ctx.invocation_metadata() or ():
        if key == PURPOSE_METADATA_KEY and isinstance(value, str) and value.strip():
            purpose = " ".join(value.split())[:MAX_PURPOSE]
            break
    return ReadAudit(action=action, purpose=purpose, request_id=context.request_id())


# -- resources ---------------------------------------------------------------------


def profile_input(msg: customer_pb2.Customer) -> ProfileInput:
    return ProfileInput(
        given_name=msg.given_name,
        family_name=msg.family_name,
        preferred_name=msg.preferred_name,
        locale=msg.locale,
        home_store=msg.home_store,
        tier=msg.tier,
        contact_points=[ContactPoint(c.kind, c.value, c.primary) for c in msg.contact_points],
        preferences=[Preference(p.category, p.value) for p in msg.preferences],
        important_dates=[
            ImportantDate(d.kind, d.date.year, d.date.month, d.date.day, d.label) for d in msg.important_dates
        ],
        tags=list(msg.tags),
        referral_code=msg.referral_code,
    )


def contact_input(request: purchase_service_pb2.RecordPurchaseRequest) -> ProfileInput:
    """The unknown client a purchase names by her contact points (and, for a new customer, her names)."""
    return ProfileInput(
        given_name=request.given_name,
        family_name=request.family_name,
        locale=request.locale,
        contact_points=[ContactPoint(c.kind, c.value, c.primary) for c in request.contact_points],
    )


def _price(money: money_pb2.Money) -> Price:
    return Price(money.currency_code, money.units, money.nanos)


def purchase_input(msg: purchase_pb2.Purchase) -> PurchaseInput:
    return PurchaseInput(
        channel=msg.channel,
        order_id=msg.order_id,
        store=msg.store,
        assisting_associate=msg.assisting_associate,
        order_time=time_of(msg, "order_time"),
        lines=[
            LineInput(
                line_id=line.line_id,
                sku=line.sku,
                product_name=line.product_name,
                category=line.category,
                quantity=line.quantity,
                unit_price=_price(line.unit_price) if line.HasField("unit_price") else None,
            )
            for line in msg.lines
        ],
    )


def return_input(request: purchase_service_pb2.RecordReturnRequest) -> ReturnInput:
    return ReturnInput(
        return_id=request.return_id,
        lines=[(line.line_id, line.quantity) for line in request.lines],
        return_time=time_of(request, "return_time"),
    )


def interaction_input(msg: interaction_pb2.Interaction) -> InteractionInput:
    return InteractionInput(
        kind=msg.kind,
        channel=msg.channel,
        direction=msg.direction,
        preview=msg.preview,
        store=msg.store,
        associate=msg.associate,
        referral_code=msg.referral_code,
        reference=msg.reference,
        external_id=msg.external_id,
        occur_time=time_of(msg, "occur_time"),
    )


def segment_input(msg: segment_pb2.Segment) -> SegmentInput:
    ltv = msg.lifetime_value
    return SegmentInput(
        tags=list(msg.tags),
        tiers=list(msg.tiers),
        home_stores=list(msg.home_stores),
        preferences=[(p.category, p.value) for p in msg.preferences],
        associates=list(msg.associates),
        birthday_within_days=msg.birthday_within_days,
        consent=(msg.consent.channel, msg.consent.purpose) if msg.HasField("consent") else None,
        lifetime_value=LifetimeValueInput(
            currency_code=ltv.currency_code,
            min_units=ltv.min_units if ltv.HasField("min_units") else None,
            max_units=ltv.max_units if ltv.HasField("max_units") else None,
        )
        if msg.HasField("lifetime_value")
        else None,
        # Naive UTC, as the segment's stored criteria are.
        last_purchase_after=msg.last_purchase_after.ToDatetime() if msg.HasField("last_purchase_after") else None,
        last_purchase_before=msg.last_purchase_before.ToDatetime() if msg.HasField("last_purchase_before") else None,
    )


def import_batch(request: customer_service_pb2.ImportCustomersRequest, stream_import_id: str | None) -> imports.Batch:
    """One message of an import stream; its keys are checked (the rows are validated by the use case)."""
    imports.check_batch(request.import_id, request.batch_id, len(request.rows), stream_import_id)
    rows = [imports.RowInput(r.row_number, r.customer_id, profile_input(r.customer)) for r in request.rows]
    return imports.Batch(request.import_id, request.batch_id, rows)


async def import_batches(
    stream: AsyncIterator[customer_service_pb2.ImportCustomersRequest],
) -> AsyncIterator[imports.Batch]:
    """The batches of an import stream, read as the use case asks for them; every message
    of one stream carries the same import id."""
    import_id: str | None = None
    async for request in stream:
        batch = import_batch(request, import_id)
        import_id = batch.import_id
        yield batch
