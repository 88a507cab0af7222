"""Who holds each customer: the copy kept from the associate service's assignment events,
and the provisional holding of a customer an associate creates."""

from __future__ import annotations

from servicekit.uow import UnitOfWork

from ..domain import access
from ..domain.assignments import Change, Hold, Role, steps
from ..storage import assignments


async def apply_change(uow: UnitOfWork, change: Change) -> None:
    """One assignment_changed event (the `assignments` consumer)."""
    for step in steps(change):
        if isinstance(step, Hold):
            await assignments.hold(uow.conn, change.customer_id, step.associate, step.role)
        else:
            await assignments.release(uow.conn, change.customer_id, step.associate, step.role)


async def hold_if_associate(uow: UnitOfWork, customer_id: str) -> None:
    """An associate creating a customer (by hand or at the till) holds her at once, so she
    reads her new client at once; the associate service's assignment event confirms it or
    names someone else."""
    holder = access.provisional_holder(uow.caller)
    if holder:
        await assignments.hold_provisionally(uow.conn, customer_id, holder, Role.PRIMARY)
