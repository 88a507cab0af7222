"""A customer's data as a whole: her export (asked by the customer service's
ExportCustomer, which gathers what every service holds), and her erasure as each event
consumer carries it out.

Erasure reaches every copy this service holds: each consumer forgets what it keeps of her
(holders, book, tasks and interaction log; the attribution ledger keeps amounts under an
id that identifies nobody any more), her events leave this service's outbox, the stored
replies of requests about her are withdrawn, and every consumer that may have published
events about her records a purge of her subjects after everything it emitted
(servicekit.outbox): events it published after the customer service's purge leave the
stream too.
"""

from __future__ import annotations

import dataclasses

from atelier.associate.v1 import associate_service_pb2 as api
from servicekit import audit, idempotency, outbox
from servicekit.auth import Principal
from servicekit.events import customer_of
from servicekit.uow import Transactions, UnitOfWork

from ..domain import privacy as rules
from ..messages import privacy as messages
from ..storage import privacy
from . import assignments, customer_facts, task_triggers
from .audit_trail import ReadAudit


async def export_customer_data(
    tx: Transactions, caller: Principal, customer_id: str, name: str, read: ReadAudit
) -> api.ExportCustomerDataResponse:
    """Every row this service holds about her. Someone it never heard of but still holds
    rows about (her history after an erasure or a merge) is known for this purpose. The
    export's audit record commits with it (usecases.audit_trail)."""
    async with tx.begin(caller) as uow:
        _, facts = await customer_facts.load(uow.conn, customer_id)
        held = await privacy.export_rows(uow.conn, customer_id)
        if not facts.known and any(held.values()):
            facts = dataclasses.replace(facts, known=True)
        rules.check_export(caller, facts)
        await audit.write_now(uow.conn, *read.records(caller, [customer_id]))
    return messages.export(held)


async def _forget_events(uow: UnitOfWork, customer_id: str) -> None:
    """Her events leave this service's outbox, and her subjects the stream once everything
    this unit of work emitted (and all before it) is out."""
    name = f"customers/{customer_id}"
    await outbox.forget(uow.conn, [name])
    if customer_of(name) == name:  # else no event could name her in its subject
        uow.emit(outbox.purge_request(name))


async def holders_erased(uow: UnitOfWork, customer_id: str) -> None:
    """The `assignment` consumer: nobody holds her any more, requests about her replayed
    are refused, her events go."""
    await assignments.customer_removed(uow, customer_id, "erased")
    name = f"customers/{customer_id}"
    withdrawn = [
        (reply.method, reply.request_id)
        for reply in await idempotency.stored_replies(uow.conn, [name])
        if rules.withdraws_reply(reply.method) and name in messages.customers_named(reply.method, reply.response)
    ]
    await idempotency.withdraw(uow.conn, withdrawn, rules.ERASED_REQUEST)
    await _forget_events(uow, customer_id)


async def tasks_erased(uow: UnitOfWork, customer_id: str) -> None:
    """The `tasks` consumer: what associates wrote about her goes, then her task events."""
    await task_triggers.customer_erased(uow, customer_id)
    await _forget_events(uow, customer_id)


async def attributions_erased(uow: UnitOfWork, customer_id: str) -> None:
    """The `attribution` consumer: the ledger stays (amounts under an id that no longer
    identifies anyone); the events it published about her go."""
    await _forget_events(uow, customer_id)
