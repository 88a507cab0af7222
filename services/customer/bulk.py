"""Bulk paths of CustomerService: ImportCustomers (client streaming, one transaction per
batch) and StreamCustomers (server streaming from a server-side cursor). Mixed into
CustomerServicer, which holds the engine."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from google.rpc import error_details_pb2

from atelier.customer.v1 import customer_pb2, customer_service_pb2 as api
from servicekit import context, names, wire
from servicekit.errors import invalid

from . import events
from .domain import imports, profile, segments, stewardship
from .storage import customers, mapping
from .storage import imports as import_store
from .storage import segments as segment_store

# The response lists at most this many rejected rows (the counts are always complete):
# a file that is wrong on every line must not produce a response larger than itself.
MAX_LISTED_REJECTIONS = 10_000
DEFAULT_CHUNK = 500
MAX_CHUNK = 1000
_IMPORTED_PATHS = ["contact_points", "given_name", "family_name", "preferred_name", "locale",
                   "home_store", "tier", "tags", "preferences", "important_dates"]  # fmt: skip


class BulkMethods:
    # Provided by CustomerServicer.
    _engine = None
    _tag_rules = None

    async def ImportCustomers(self, request_iterator, context_):
        caller = context.principal()
        stewardship.check_import(caller)
        response = api.ImportCustomersResponse()
        import_id = None
        # Batches are written one after the other (a batch must see the contact points of
        # the previous one to merge on them), but the next batch is validated while the
        # database works on the current one.
        applying: asyncio.Task | None = None
        try:
            async for request in request_iterator:
                imports.check_request(request, import_id)
                import_id = request.import_id
                validated = imports.validate(request.rows)
                if applying is not None:
                    _add_outcome(response, *await applying)
                    applying = None
                applying = asyncio.create_task(self._import_batch(request, validated, caller.subject))
        finally:
            # A batch already handed to the database completes (or fails) before the call ends.
            last = await applying if applying is not None else None
        if last is not None:
            _add_outcome(response, *last)
        return response

    async def _import_batch(self, request, validated, actor: str):
        return request, await self._apply_batch(request, validated, actor)

    async def _apply_batch(self, request, validated, actor: str) -> import_store.BatchOutcome:
        good, bad = validated
        async with self._engine.begin() as conn:
            stored = await import_store.claim(conn, request.import_id, request.batch_id, actor)
            if stored is not None:
                return stored
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
            envelopes = []
            created_customers = []
            for cid, row in new:
                if cid in taken:
                    outcome.rejected.append(imports.Rejected(row.row_number, [("customer_id", "already exists")]))
                    outcome.rejected.extend(
                        imports.Rejected(n, [("customer.contact_points", f"shares a contact point with rejected row {row.row_number}")])
                        for n in row.folded
                    )
                    continue
                outcome.accepted += 1
                outcome.merged += len(row.folded)
                created_at, updated_at = times[cid]
                created_customers.append(_customer_of(cid, row, created_at, updated_at))
            envelopes.extend(events.created_many(created_customers, actor))
            outcome.merged += sum(len(row.folded) for row in into.values())
            if into:
                merged = await customers.get_many(conn, list(into))
                envelopes.extend(
                    events.updated(mapping.customer(merged[cid]), _IMPORTED_PATHS, actor) for cid in into if cid in merged
                )
            outcome.rejected.sort(key=lambda r: r.row_number)
            await import_store.copy_events(conn, envelopes)
            await import_store.finish(conn, request.import_id, request.batch_id, outcome)
        return outcome

    async def StreamCustomers(self, request, context_):
        caller = context.principal()
        stewardship.check_stream(caller)
        flt = segments.parse(request.segment, datetime.now(timezone.utc).date())
        chunk = request.chunk_size or DEFAULT_CHUNK
        if not 0 < chunk <= MAX_CHUNK:
            raise invalid("chunk_size", f"1-{MAX_CHUNK}")
        rules = self._tag_rules
        async with self._engine.connect() as conn:
            async for rows in segment_store.stream(conn, flt, rules, chunk):
                yield api.StreamCustomersResponse(customers=[mapping.customer(r, rules) for r in rows])


def _add_outcome(response: api.ImportCustomersResponse, request, outcome: import_store.BatchOutcome) -> None:
    response.accepted += outcome.accepted
    response.merged += outcome.merged
    response.rejected += len(outcome.rejected)
    if outcome.applied:
        response.batches_applied += 1
    else:
        response.batches_skipped += 1
    for r in outcome.rejected:
        if len(response.rejected_rows) >= MAX_LISTED_REJECTIONS:
            break
        response.rejected_rows.add(
            row_number=r.row_number,
            batch_id=request.batch_id,
            field_violations=[error_details_pb2.BadRequest.FieldViolation(field=f, description=d) for f, d in r.violations],
        )


def _customer_of(cid: str, row: imports.ImportRow, created_at, updated_at) -> customer_pb2.Customer:
    """The new customer as GetCustomer shows her (no consents, purchases or tags computed
    yet), built from the imported values without a read back."""
    v = row.values
    msg = customer_pb2.Customer(
        name=f"customers/{cid}",
        given_name=v.get("given_name", ""),
        family_name=v.get("family_name", ""),
        preferred_name=v.get("preferred_name", ""),
        locale=v.get("locale", ""),
        home_store=v.get("home_store", ""),
        tier=v.get("tier", 0),
        tags=v.get("tags", []),
        referral_code=row.referral_code,
        etag=wire.etag(1),
    )
    for c in v.get("contact_points", []):
        msg.contact_points.add(kind=c.kind, value=c.value, primary=c.primary)
    for pref in v.get("preferences", []):
        msg.preferences.add(category=pref["category"], value=pref["value"])
    for item in v.get("important_dates", []):
        date = msg.important_dates.add(kind=item["kind"], label=item.get("label", ""))
        date.date.year, date.date.month, date.date.day = item["year"], item["month"], item["day"]
    msg.create_time.FromDatetime(created_at)
    msg.update_time.FromDatetime(updated_at)
    return msg
