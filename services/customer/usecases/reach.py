"""The step every use case on one customer starts with: find her, answer as for a missing
customer when she is not there (domain/access.missing), and apply the access rule the use
case needs."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncConnection

from servicekit.auth import Principal

from ..domain import access
from ..storage import customers


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
    locked until the transaction ends."""
    current = await customers.reach_and_version(conn, customer_id, lock=lock)
    if current is None:
        raise access.missing(caller, resource)
    check(caller, current[0], resource)
    return current
