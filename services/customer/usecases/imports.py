"""ImportCustomers: batches of rows from a legacy CRM or POS export, one unit of work per
batch, each batch applied once (keyed by import id and batch id)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from atelier.customer.v1 import customer_service_pb2 as api
from servicekit import names
from servicekit.auth import Principal
from servicekit.uow import Transactions

from ..domain import imports, profile, stewardship
from ..domain.computed_tags import TagRules
from ..messages import customers as messages
from ..messages import events
from ..messages.imports import add_outcome
from ..storage import customers
from ..storage import imports as import_store
from . import directory

# A row merging into an existing customer may change any updatable field (the mask of
# her customer.updated event).
_IMPORTED_PATHS = list(profile.UPDATABLE)


async def import_customers(
    tx: Transactions, rules: TagRules, caller: Principal, batches: AsyncIterator[imports.Batch]
) -> api.ImportCustomersResponse:
    """Batches are written one after the other (a batch must see the contact points of the
    previous one to merge on them), but the next batch is validated while the database
    works on the current one."""
    stewardship.check_import(caller)
    response = api.ImportCustomersResponse()
    applying: asyncio.Task[tuple[str, import_store.BatchOutcome]] | None = None
    try:
        async for batch in batches:
            validated = imports.validate(batch.rows)
            if applying is not None:
                add_outcome(response, *await applying)
                applying = None
            applying = asyncio.create_task(_apply_batch(tx, rules, caller, batch, validated))
    finally:
        # A batch already handed to the database completes (or fails) before the call ends.
        last = await applying if applying is not None else None
    if last is not None:
        add_outcome(response, *last)
    return response


async def _apply_batch(
    tx: Transactions,
    rules: TagRules,
    caller: Principal,
    batch: imports.Batch,
    validated: tuple[list[imports.ImportRow], list[imports.Rejected]],
) -> tuple[str, import_store.BatchOutcome]:
    good, bad = validated
    actor = caller.subject
    known = await directory.known(
        tx, [row.values.get("home_store", "") for row in good], [row.referral_code for row in good]
    )
    good, unknown = imports.check_references(good, known)
    bad = [*bad, *unknown]
    async with tx.begin(caller) as uow:
        conn = uow.conn
        stored = await import_store.claim(conn, batch.import_id, batch.batch_id, actor)
        if stored is not None:
            return batch.batch_id, stored
        leads = imports.fold_batch(good)
        owners = await import_store.match_existing(conn, leads)
        new: list[tuple[str, imports.ImportRow]] = []
        into: dict[str, imports.ImportRow] = {}
        for lead in leads:
            owner = owners.get(lead.row_number)
            if owner is None:
                new.append((lead.customer_id or names.new_id(), lead))
            elif owner in into:
                imports.fold_into(into[owner], lead)
            else:
                # The existing customer absorbs the lead: every one of its rows merged.
                into[owner] = lead
                lead.folded.insert(0, lead.row_number)
        created, taken = await import_store.apply(conn, new, list(into.items()), profile.search_text)

        outcome = import_store.BatchOutcome(rejected=list(bad))
        times = {cid: (c, u) for cid, c, u in created}
        created_customers = []
        for cid, row in new:
            if cid in taken:
                outcome.rejected.extend(imports.rejected_as_taken(row))
                continue
            outcome.accepted += 1
            outcome.merged += len(row.folded)
            created_customers.append(messages.imported(cid, row, *times[cid]))
        envelopes = events.created_many(created_customers, actor)
        outcome.merged += sum(len(row.folded) for row in into.values())
        if into:
            merged = await customers.get_many(conn, list(into))
            envelopes.extend(
                events.updated(messages.customer(merged[cid], rules), _IMPORTED_PATHS, actor)
                for cid in into
                if cid in merged
            )
        outcome.rejected.sort(key=lambda r: r.row_number)
        # Thousands of events per batch: one COPY into the outbox rather than uow.emit's INSERT.
        await import_store.copy_events(conn, events.outbox_rows(envelopes))
        await import_store.finish(conn, batch.import_id, batch.batch_id, outcome)
    return batch.batch_id, outcome
