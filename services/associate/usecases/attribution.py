"""Attribution of purchases, and the interaction log performance is computed from.

Runs in the unit of work of each event; the ledger's unique purchase keeps a replayed
order (new event id, same purchase) from being credited twice.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from servicekit import names
from servicekit.uow import UnitOfWork

from ..domain import attribution
from ..domain.attribution import Sale
from ..domain.interactions import Interaction
from ..messages import events
from ..messages import performance as messages
from ..storage import assignments, interactions, ledger


async def purchase_recorded(uow: UnitOfWork, sale: Sale, window: timedelta, actor: str) -> None:
    """The purchase is credited (to her assisting associate, her primary one within the
    window, or nobody) once; `actor` is the event's."""
    conn = uow.conn
    primary = await assignments.primary_of(conn, sale.customer_id)
    last = await interactions.last_before(conn, sale.customer_id, sale.order_time)
    associate, basis = attribution.attribute(
        assisting=sale.assisting_id, primary=primary, last_interaction=last, order_time=sale.order_time, window=window
    )
    row = await ledger.insert(conn, names.new_id(), sale, associate, basis)
    if row is not None:
        uow.emit(events.attribution_changed(messages.attribution(row), actor))


async def purchase_returned(uow: UnitOfWork, purchase: str, amount: Decimal) -> None:
    """A return lowers what the purchase is worth; the credit follows it."""
    await ledger.set_amount(uow.conn, purchase, amount)


async def interaction_seen(uow: UnitOfWork, it: Interaction) -> None:
    await interactions.record(uow.conn, it)


async def customers_merged(uow: UnitOfWork, survivor: str, duplicate: str) -> None:
    await ledger.repoint_customer(uow.conn, duplicate, survivor)
    await interactions.repoint(uow.conn, duplicate, survivor)
