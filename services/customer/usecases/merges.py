"""Duplicates and merges: finding likely duplicates, merging one customer into another,
undoing a merge, reading one."""

from __future__ import annotations

from typing import Any

from atelier.customer.v1 import customer_service_pb2 as api
from servicekit import names
from servicekit.audit import AuditWriter
from servicekit.auth import Principal
from servicekit.errors import NotFound
from servicekit.uow import Idempotent, Transactions, UnitOfWork

from ..domain import merging, profile, stewardship
from ..domain.computed_tags import TagRules
from ..messages import customers as customer_messages
from ..messages import events
from ..messages import merges as messages
from ..storage import customers, merges
from ..storage.customers import CustomerRow
from .audit_trail import ReadAudit
from .reach import required


def _profile(row: CustomerRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in merging.PROFILE_FIELDS}


async def find_duplicates(
    tx: Transactions,
    audit: AuditWriter,
    caller: Principal,
    customer_id: str | None,
    min_score: float,
    limit: int,
    read: ReadAudit,
) -> api.FindDuplicatesResponse:
    """Likely duplicates, best first (of one customer, or across the base). The pairs show
    what the two have in common (contact points, names): both customers are audited."""
    async with tx.snapshot() as conn:
        pairs = await merges.candidates(conn, customer_id)
    response = messages.duplicates(merging.rank(pairs, min_score, limit))
    read.record_each(audit, caller, [name for c in response.candidates for name in (c.customer, c.other)])
    return response


async def merge_customers(
    tx: Transactions, caller: Principal, survivor: str, duplicate: str, request: api.MergeCustomersRequest
) -> api.Merge:
    """Merge the customer `duplicate` into `survivor` (ids; the request names them)."""
    stewardship.check_merge(caller)

    async def merge(uow: UnitOfWork) -> api.Merge:
        found = await merges.lock(uow.conn, [survivor, duplicate])
        rows = await customers.get_many(uow.conn, [survivor, duplicate])
        for name, cid in ((request.survivor, survivor), (request.duplicate, duplicate)):
            if cid not in found or cid not in rows or rows[cid].erased:
                raise NotFound(name)
        values, changes = merging.combine(_profile(rows[survivor]), _profile(rows[duplicate]))
        moved = await merges.move(uow.conn, survivor, duplicate)
        moved["survivor_changes"] = changes
        if values or moved["contact_points"]:
            current = await customers.search_inputs(uow.conn, survivor)
            values["search_text"] = profile.search_text({**current, **values})
        await customers.update(uow.conn, survivor, values)
        row = await merges.record(uow.conn, names.new_id(), survivor, duplicate, caller.subject, moved)
        result = messages.merge(row)
        uow.emit(events.merged(result.survivor, result.duplicate, result.name, caller.subject))
        return result

    return await tx.run(caller, merge, idempotent=Idempotent("MergeCustomers", request, api.Merge))


async def unmerge_customers(
    tx: Transactions, rules: TagRules, caller: Principal, merge_id: str, name: str
) -> api.Merge:
    """The duplicate exists again with what she brought; the survivor keeps what she has
    gained since, and loses what the merge gave her where she still holds it."""
    stewardship.check_merge(caller)
    async with tx.begin(caller) as uow:
        merge = await merges.get(uow.conn, merge_id, lock=True)
        if merge is None:
            raise NotFound(name)
        facts = merging.UndoFacts(
            undo_time=merge.undo_time,
            erased=merge.erased,
            later_merge=await merges.later_dependent(uow.conn, merge_id),
            survivor_exists=bool(await merges.lock(uow.conn, [merge.survivor_id])),
        )
        merging.check_undo(name, f"customers/{merge.survivor_id}", facts)
        undone = await merges.move_back(uow.conn, merge, caller.subject)
        current = required(await customers.get(uow.conn, merge.survivor_id), f"customers/{merge.survivor_id}")
        values = merging.revert(_profile(current), merge.moved.get("survivor_changes", {}))
        inputs = await customers.search_inputs(uow.conn, merge.survivor_id)
        values["search_text"] = profile.search_text({**inputs, **values})
        await customers.update(uow.conn, merge.survivor_id, values)
        restored_row = required(await customers.get(uow.conn, merge.duplicate_id), f"customers/{merge.duplicate_id}")
        restored = customer_messages.customer(restored_row, rules)
        result = messages.merge(undone)
        uow.emit(events.unmerged(result.survivor, result.duplicate, result.name, restored, caller.subject))
    return result


async def get_merge(tx: Transactions, caller: Principal, merge_id: str, name: str) -> api.Merge:
    stewardship.check_merge(caller)
    async with tx.read() as conn:
        merge = await merges.get(conn, merge_id)
    if merge is None:
        raise NotFound(name)
    return messages.merge(merge)
