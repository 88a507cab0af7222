"""Where a customer's new task goes: the stored facts, routed by domain.tasks.route."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import tasks as planning
from ..domain.names import bare
from ..domain.tasks import Route
from ..storage import tasks


async def route(conn: AsyncConnection, customer_id: str, home_store: str = "", fallback_store: str = "") -> Route:
    """`home_store`, `fallback_store`: store names (or bare ids) the triggering fact gives."""
    home, fallback = bare(home_store, "stores"), bare(fallback_store, "stores")
    facts = await tasks.route_facts(conn, customer_id, [s for s in (home, fallback) if s])
    return planning.route(facts, home, fallback)
