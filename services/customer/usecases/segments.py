"""StreamCustomers: every customer of a segment, in chunks, from a server-side cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator

from atelier.customer.v1 import customer_service_pb2 as api
from servicekit.uow import Transactions

from ..domain.computed_tags import TagRules
from ..domain.segments import SegmentFilter
from ..messages import customers as messages
from ..storage import segments


async def stream_customers(
    tx: Transactions, rules: TagRules, flt: SegmentFilter, chunk: int
) -> AsyncIterator[api.StreamCustomersResponse]:
    """Memory stays flat whatever the audience size: `chunk` rows at a time."""
    async with tx.snapshot() as conn:
        async for rows in segments.stream(conn, flt, rules, chunk):
            yield api.StreamCustomersResponse(customers=[messages.customer(r, rules) for r in rows])
