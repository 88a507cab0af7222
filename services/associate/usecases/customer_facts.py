"""What the service knows of one customer, read for the access rules (domain.access): whether
it has heard of her, her home store, who holds her now and their stores."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.access import CustomerFacts
from ..domain.assignment import Holding
from ..domain.names import prefixed
from ..storage import assignments, associates, customers


async def load(conn: AsyncConnection, customer_id: str) -> tuple[Holding, CustomerFacts]:
    """Her holding as it is now and the facts access decides on. Under her lock
    (storage.assignments.lock) when what follows changes who holds her."""
    holding = await assignments.holding(conn, customer_id)
    stores = await associates.stores_of(conn, sorted(holding.holders))
    known = await customers.known(conn, customer_id)
    facts = CustomerFacts(
        name=f"customers/{customer_id}",
        known=known.known,
        home_store=known.home_store,
        holders=frozenset(holding.holders),
        holder_stores=frozenset(prefixed("stores", s) for s in stores.values()),
    )
    return holding, facts
