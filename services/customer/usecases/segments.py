"""StreamCustomers: every customer of a segment, in chunks, from a server-side cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator

from atelier.customer.v1 import customer_service_pb2 as api
from servicekit.audit import AuditWriter
from servicekit.auth import Principal
from servicekit.uow import Transactions

from ..domain.computed_tags import TagRules
from ..domain.segments import SegmentFilter
from ..messages import customers as messages
from ..storage import segments
from .audit_trail import ReadAudit


async def stream_customers(
    tx: Transactions,
    rules: TagRules,
    audit: AuditWriter,
    caller: Principal,
    flt: SegmentFilter,
    chunk: int,
    read: ReadAudit,
) -> AsyncIterator[api.StreamCustomersResponse]:
    """Memory stays flat whatever the audience size: `chunk` rows at a time. Each chunk's
    customers are audited as it is sent."""
    async with tx.snapshot() as conn:
        async for rows in segments.stream(conn, flt, rules, chunk):
            read.record_each(audit, caller, [f"customers/{r.id}" for r in rows])
            yield api.StreamCustomersResponse(customers=[messages.customer(r, rules) for r in rows])
