"""Changing who holds one customer: the steps the transfer, claim and customer-event use
cases share. Call under the customer's lock (storage.assignments.lock), inside their unit
of work; each change is written to the history and published as assignment_changed by
the unit of work's caller. The decisions are domain.assignment's."""

from __future__ import annotations

from collections.abc import Sequence

from servicekit.uow import UnitOfWork

from ..domain import assignment
from ..domain.assignment import AssignmentChange, Reason
from ..domain.names import prefixed
from ..messages import events
from ..storage import assignments, associates


async def make_primary(
    uow: UnitOfWork, customer_id: str, associate_id: str | None, reason: Reason, note: str
) -> list[AssignmentChange]:
    """Make `associate_id` her primary associate (None: the headquarters pool). Returns the
    changes made (none when she already is held that way)."""
    conn = uow.conn
    current = await assignments.holding(conn, customer_id)
    if assignment.primary_unchanged(current, associate_id):
        return []
    if current.primary:
        await assignments.drop_primary(conn, customer_id)
    store = ""
    if associate_id is None:
        await assignments.to_pool(conn, customer_id, reason)
    else:
        await assignments.out_of_pool(conn, customer_id)
        if associate_id in current.secondaries:
            await assignments.drop_secondary(conn, customer_id, associate_id)
        await assignments.add_primary(conn, customer_id, associate_id, reason)
        store = prefixed("stores", await associates.store_of(conn, associate_id))
    return await _record(uow, assignment.new_primary_changes(current, customer_id, associate_id, store, reason, note))


async def add_secondary(
    uow: UnitOfWork, customer_id: str, associate_id: str, reason: Reason, note: str
) -> list[AssignmentChange]:
    conn = uow.conn
    current = await assignments.holding(conn, customer_id)
    if assignment.holds(current, associate_id):
        return []
    await assignments.add_secondary(conn, customer_id, associate_id, reason)
    store = prefixed("stores", await associates.store_of(conn, associate_id))
    change = AssignmentChange(customer_id, assignment.Role.SECONDARY, "", associate_id, store, reason, note)
    return await _record(uow, [change])


async def remove_all(uow: UnitOfWork, customer_id: str, reason: Reason, note: str) -> list[AssignmentChange]:
    """She no longer exists here (erased, deleted, or merged into another customer)."""
    conn = uow.conn
    current = await assignments.holding(conn, customer_id)
    if current.primary:
        await assignments.drop_primary(conn, customer_id)
    for associate_id in current.secondaries:
        await assignments.drop_secondary(conn, customer_id, associate_id)
    if current.in_pool:
        await assignments.out_of_pool(conn, customer_id)
    return await _record(uow, assignment.removal_changes(current, customer_id, reason, note))


async def _record(uow: UnitOfWork, changes: Sequence[AssignmentChange]) -> list[AssignmentChange]:
    actor = uow.caller.subject
    await assignments.record_history(uow.conn, changes, actor)
    uow.emit(*(events.assignment_changed(c, actor) for c in changes))
    return list(changes)
