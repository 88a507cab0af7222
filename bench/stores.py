"""The stores the bench's customers name, made known to the customer service the way it
learns them. The service refuses a home store it does not know (after waiting up to 2 s
for it); it knows a store once the associate service's store_created event has been
applied by its `directory` consumer.

The bench runs no associate service beside the customer service, so `make_known`
builds the store_created envelope the associate service would publish and applies it
through the consumer's own handler, in a unit of work acting as the platform, as the
inbox does (tests/customer/support.py does the same). Seeding that writes customers
straight into the tables (bench.seeding) writes the read model's rows in the same COPY
instead: `copy_rows`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime

import psycopg

from atelier.events.v1 import associate_events_pb2 as associate_ev
from atelier.events.v1.envelope_pb2 import EventEnvelope
from servicekit import event_types
from servicekit.auth import SYSTEM
from servicekit.db import create_engine
from servicekit.events import new_envelope
from servicekit.uow import in_unit_of_work
from services.customer.consumers import directory as directory_consumer

ACTOR = "staff/bench-hq"


def store_created(store: str) -> EventEnvelope:
    """The event the associate service publishes when `store` (`stores/{id}`) is created."""
    return new_envelope(
        event_type=event_types.STORE_CREATED,
        source="associate",
        subject=store,
        payload=associate_ev.StoreChanged(store=store, code=store.rsplit("/", 1)[-1].upper(), display_name=store),
        actor=ACTOR,
    )


async def _apply(database_url: str, envelopes: list[EventEnvelope]) -> None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            for envelope in envelopes:
                await in_unit_of_work(conn, SYSTEM, lambda uow, e=envelope: directory_consumer.handle(uow, e))
    finally:
        await engine.dispose()


def make_known(database_url: str, stores: Iterable[str]) -> None:
    """Apply a store_created event for each of `stores` through the customer service's
    `directory` consumer, on its database (migrated: the service has started)."""
    envelopes = [store_created(store) for store in dict.fromkeys(stores)]
    asyncio.run(_apply(database_url, envelopes))


def copy_rows(cur: psycopg.Cursor, stores: Iterable[str]) -> int:
    """Write the directory's rows for `stores` with one COPY, in the caller's transaction
    (what applying their store_created events now would leave); how many."""
    now = datetime.now(UTC)
    unique = list(dict.fromkeys(stores))
    with cur.copy("COPY directory_stores (store, change_time) FROM STDIN") as copy:
        for store in unique:
            copy.write_row((store, now))
    return len(unique)
