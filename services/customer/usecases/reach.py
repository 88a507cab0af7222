"""The step every use case on one customer starts with: find her, answer as for a missing
customer when she is not there (domain/access.missing), and apply the access rule the use
case needs. Also the read of her rows behind that step, the row a unit of work holds, and
what a caller is told of a customer whose contact point she gave."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from servicekit.auth import Principal
from servicekit.errors import AlreadyExists
from servicekit.uow import Transactions

from ..domain import access
from ..storage import customers
from ..storage.customers import ContactPointTaken

T = TypeVar("T")


async def reached(
    conn: AsyncConnection,
    caller: Principal,
    customer_id: str,
    resource: str,
    check: Callable[[Principal, access.Reach, str], None],
    *,
    lock: bool = False,
) -> tuple[access.Reach, int]:
    """Her reach and version once `check` allowed the caller; with `lock`, her row stays
    locked until the transaction ends. An erased customer is answered as a missing one
    (domain/access.check_present), so nothing is read from or written to her id."""
    current = await customers.reach_and_version(conn, customer_id, lock=lock)
    if current is None:
        raise access.missing(caller, resource)
    reach, version = current
    check(caller, access.check_present(caller, reach, resource), resource)
    return reach, version


async def read_of(
    tx: Transactions,
    caller: Principal,
    customer_id: str,
    resource: str,
    read: Callable[[AsyncConnection], Awaitable[T]],
) -> T:
    """`read` of one customer's rows, once the caller may read her (one snapshot)."""
    async with tx.snapshot() as conn:
        await reached(conn, caller, customer_id, resource, access.check_read)
        return await read(conn)


def required(row: T | None, what: str) -> T:
    """A row the unit of work knows exists (it holds its lock, or just wrote it)."""
    if row is None:
        raise LookupError(f"{what} is missing inside the unit of work that holds it")
    return row


async def disclosed(tx: Transactions, caller: Principal, taken: ContactPointTaken) -> AlreadyExists:
    """The answer to a write whose contact point another customer owns, once its unit of
    work rolled back: her name only if the caller reaches her (domain/access)."""
    reach = None
    if taken.owner:
        async with tx.read() as conn:
            current = await customers.reach_and_version(conn, taken.owner)
        reach = current[0] if current else None
    return access.contact_point_taken(caller, taken.owner, reach, taken.value)
