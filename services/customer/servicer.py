"""CustomerService over gRPC: a thin adapter between the API, the domain rules and the
storage. One transaction per RPC; every change records its event in that transaction."""

from __future__ import annotations

from datetime import datetime

from google.protobuf import empty_pb2
from sqlalchemy.ext.asyncio import AsyncEngine

from atelier.common.v1 import common_pb2
from atelier.customer.v1 import customer_pb2, customer_service_pb2 as api, customer_service_pb2_grpc
from servicekit import context, db, idempotency, names, outbox, paging, wire
from servicekit.audit import AuditWriter
from servicekit.errors import Aborted, Violations, invalid

from . import audit_trail, events, guard
from .bulk import BulkMethods
from .merge_methods import MergeMethods
from .domain import access, contacts, filters, profile
from .domain.computed_tags import TagRules
from .storage import assignments, consents, customers, mapping, merges, notes

MAX_SEARCH_RESULTS = 50
MAX_NOTE = 4000


class CustomerServicer(BulkMethods, MergeMethods, customer_service_pb2_grpc.CustomerServiceServicer):
    def __init__(self, engine: AsyncEngine, tag_rules: TagRules | None = None, audit: AuditWriter | None = None):
        self._engine = engine
        # Hot reads run in autocommit: one round trip instead of BEGIN, SELECT, ROLLBACK.
        self._reader = db.autocommit(engine)
        # Day counts of the time-based computed tags, derived when a customer is read.
        self._tag_rules = tag_rules or TagRules()
        # Reads of personal data are audited off the request path (servicekit.audit).
        self._audit = audit or AuditWriter(engine)

    # -- reads ---------------------------------------------------------------

    async def GetCustomer(self, request, context_):
        caller = context.principal()
        cid = names.parse(request.name, "customers", "name")
        async with self._reader.connect() as conn:
            # A customer merged into another answers with the survivor.
            row = await merges.get_current(conn, cid)
        if row is None:
            raise access.missing(caller, request.name)
        access.check_read(caller, row.reach, request.name)
        self._audit.record(audit_trail.read_record(context_, "GetCustomer", f"customers/{row.id}"))
        return mapping.customer(row, self._tag_rules)

    async def ListCustomers(self, request, context_):
        caller = context.principal()
        size = paging.page_size(request.page_size)
        flt = filters.parse(request.filter)
        scope = access.scope(caller)
        after = paging.decode(request.page_token, request.filter, shape=(datetime, str))
        async with self._reader.connect() as conn:
            rows = await customers.list_page(conn, flt, scope, after, size + 1)
        response = api.ListCustomersResponse(customers=[mapping.customer(r, self._tag_rules) for r in rows[:size]])
        response.next_page_token = paging.next_token(
            rows, size, request.filter, lambda last: [last.create_time.isoformat(), last.id]
        )
        return response

    async def SearchCustomers(self, request, context_):
        caller = context.principal()
        query = contacts.search_query(request.query)
        if len(query) < 2:
            raise invalid("query", "at least 2 characters of a name, e-mail or phone number")
        size = paging.page_size(request.page_size, default=10, maximum=MAX_SEARCH_RESULTS)
        async with self._engine.connect() as conn:
            hits = await customers.search(conn, query, access.scope(caller), size)
            rows = await customers.get_many(conn, [cid for cid, _ in hits])
        return api.SearchCustomersResponse(
            results=[
                api.SearchResult(customer=mapping.customer(rows[cid], self._tag_rules), score=round(score, 4))
                for cid, score in hits
                if cid in rows
            ]
        )

    # -- writes --------------------------------------------------------------

    async def CreateCustomer(self, request, context_):
        caller = context.principal()
        violations = Violations()
        if not request.HasField("customer"):
            violations.add("customer", "required")
        values = profile.read(request.customer, profile.UPDATABLE, "customer.", violations)
        profile.check_new(values, request.customer, "customer.", violations)
        if request.customer_id and not names.ID_PATTERN.match(request.customer_id):
            violations.add("customer_id", "3-63 characters of a-z, 0-9 and -")
        try:
            idempotency.check_request_id(request.request_id)
        except Exception as exc:  # collected with the rest
            violations.items.extend(exc.violations)
        violations.raise_if_any()
        if not values["home_store"] and access.store_scope(caller):
            values["home_store"] = caller.store
        access.check_create(caller, values["home_store"])

        async with self._engine.begin() as conn:
            if request.request_id:
                first = await idempotency.claim(conn, "CreateCustomer", request.request_id, request, caller.subject)
                if first is not None:
                    return customer_pb2.Customer.FromString(first)
            cid = request.customer_id or names.new_id()
            row = await customers.insert(
                conn, cid, values, request.customer.referral_code, profile.search_text(values)
            )
            holder = access.provisional_holder(caller)
            if holder:
                await assignments.hold_provisionally(conn, cid, holder)
            created = mapping.customer(row, self._tag_rules)
            await outbox.record(conn, events.created(created, caller.subject))
            if request.request_id:
                await idempotency.remember(conn, "CreateCustomer", request.request_id, created)
        return created

    async def UpdateCustomer(self, request, context_):
        caller = context.principal()
        violations = Violations()
        cid = names.parse(request.customer.name, "customers", "customer.name")
        paths = self._update_paths(request, violations)
        source = request.customer
        if "contact_points" in paths and "locale" not in paths:
            # National phone numbers are read in the region of the locale the customer
            # has, not of a locale field the mask leaves out.
            source = customer_pb2.Customer()
            source.CopyFrom(request.customer)
            async with self._engine.connect() as conn:
                source.locale = await customers.locale_of(conn, cid) or ""
        values = profile.read(source, tuple(paths), "customer.", violations)
        expected = None
        if request.customer.etag:
            expected = wire.parse_etag(request.customer.etag)
            if expected is None:
                violations.add("customer.etag", "not an etag returned by this API")
        violations.raise_if_any()

        async with self._engine.begin() as conn:
            current = await customers.reach_and_version(conn, cid, lock=True)
            if current is None:
                raise access.missing(caller, request.customer.name)
            reach, version = current
            access.check_write(caller, reach, request.customer.name)
            if "home_store" in values:
                access.check_move(caller, reach.home_store, values["home_store"], request.customer.name)
            if expected is not None and expected != version:
                raise Aborted(
                    "the customer changed since it was read; get it again and retry",
                    reason="ETAG_MISMATCH",
                    metadata={"current_etag": wire.etag(version)},
                )
            if paths & {"given_name", "family_name", "preferred_name", "contact_points"}:
                merged = {**await customers.search_inputs(conn, cid), **values}
                if not (merged["given_name"] or merged["family_name"]):
                    raise invalid("customer.given_name", "a customer needs a given or a family name")
                values["search_text"] = profile.search_text(merged)
            await customers.update(conn, cid, values)
            updated = mapping.customer(await customers.get(conn, cid), self._tag_rules)
            await outbox.record(conn, events.updated(updated, sorted(paths), caller.subject))
        return updated

    @staticmethod
    def _update_paths(request, violations: Violations) -> set[str]:
        paths = set(request.update_mask.paths)
        if not paths:
            violations.add("update_mask", "required: the fields to change, or * for all")
            return set()
        if "*" in paths:
            return set(profile.UPDATABLE)
        for path in sorted(paths):
            if path in profile.OUTPUT_ONLY:
                violations.add("update_mask", f"{path} cannot be changed")
            elif path not in profile.UPDATABLE:
                violations.add("update_mask", f"unknown field {path}")
        return paths & set(profile.UPDATABLE)

    async def DeleteCustomer(self, request, context_):
        caller = context.principal()
        cid = names.parse(request.name, "customers", "name")
        expected = wire.parse_etag(request.etag) if request.etag else None
        if request.etag and expected is None:
            raise invalid("etag", "not an etag returned by this API")
        async with self._engine.begin() as conn:
            current = await guard.reached(conn, caller, cid, request.name, access.check_delete, lock=True)
            if expected is not None and expected != current[1]:
                raise Aborted(
                    "the customer changed since it was read",
                    reason="ETAG_MISMATCH",
                    metadata={"current_etag": wire.etag(current[1])},
                )
            await customers.delete(conn, cid)
            await outbox.record(conn, events.deleted(request.name, caller.subject))
        return empty_pb2.Empty()

    # -- consent -------------------------------------------------------------

    async def GrantConsent(self, request, context_):
        return await self._change_consent(request, granted=True)

    async def WithdrawConsent(self, request, context_):
        return await self._change_consent(request, granted=False)

    async def _change_consent(self, request, *, granted: bool):
        caller = context.principal()
        violations = Violations()
        try:
            cid = names.parse(request.name, "customers", "name")
        except Exception as exc:
            violations.items.extend(exc.violations)
        violations.require(
            request.channel != 0 and request.channel in common_pb2.Channel.values(), "channel", "required: a channel"
        )
        violations.require(
            request.purpose != 0 and request.purpose in common_pb2.Purpose.values(), "purpose", "required: a purpose"
        )
        violations.require(
            0 < len(request.source.strip()) <= 64, "source", "required: where the answer was captured, at most 64 characters"
        )
        violations.raise_if_any()

        async with self._engine.begin() as conn:
            await guard.reached(conn, caller, cid, request.name, access.check_write, lock=True)
            before = await customers.get(conn, cid)
            was = next(
                (c[2] for c in before.consents if c[0] == request.channel and c[1] == request.purpose), None
            )
            changed_at = await consents.record(
                conn, cid, request.channel, request.purpose, granted, request.source.strip(), caller.subject
            )
            await customers.update(conn, cid, {})
            result = mapping.customer(await customers.get(conn, cid), self._tag_rules)
            # History keeps every capture (evidence); an event only when the answer changed.
            if was is not granted:
                consent = customer_pb2.Consent(
                    channel=request.channel, purpose=request.purpose, granted=granted,
                    source=request.source.strip(), actor=caller.subject, update_time=wire.timestamp(changed_at),
                )
                await outbox.record(conn, events.consent_changed(request.name, consent, caller.subject))
        return result

    async def ListConsentChanges(self, request, context_):
        caller = context.principal()
        cid = names.parse(request.parent, "customers", "parent")
        size = paging.page_size(request.page_size)
        before = paging.decode(request.page_token, request.parent, shape=(int,))
        async with self._engine.connect() as conn:
            await guard.reached(conn, caller, cid, request.parent, access.check_read)
            rows = await consents.page(conn, cid, before[0] if before else None, size + 1)
        response = api.ListConsentChangesResponse(
            consent_changes=[
                customer_pb2.ConsentChange(
                    channel=r.channel, purpose=r.purpose, granted=r.granted, source=r.source,
                    actor=r.actor, change_time=wire.timestamp(r.change_time),
                )
                for r in rows[:size]
            ]
        )
        response.next_page_token = paging.next_token(rows, size, request.parent, lambda last: [last.id])
        return response

    # -- notes ---------------------------------------------------------------

    async def CreateNote(self, request, context_):
        caller = context.principal()
        violations = Violations()
        try:
            cid = names.parse(request.parent, "customers", "parent")
        except Exception as exc:
            violations.items.extend(exc.violations)
        text = request.note.text.strip()
        violations.require(0 < len(text) <= MAX_NOTE, "note.text", f"required, at most {MAX_NOTE} characters")
        try:
            idempotency.check_request_id(request.request_id)
        except Exception as exc:
            violations.items.extend(exc.violations)
        violations.raise_if_any()
        async with self._engine.begin() as conn:
            await guard.reached(conn, caller, cid, request.parent, access.check_write)
            if request.request_id:
                first = await idempotency.claim(conn, "CreateNote", request.request_id, request, caller.subject)
                if first is not None:
                    return customer_pb2.Note.FromString(first)
            row = await notes.insert(conn, names.new_id(), cid, text, caller.subject)
            note = _note(request.parent, row)
            if request.request_id:
                await idempotency.remember(conn, "CreateNote", request.request_id, note)
        return note

    async def ListNotes(self, request, context_):
        caller = context.principal()
        cid = names.parse(request.parent, "customers", "parent")
        size = paging.page_size(request.page_size)
        before = paging.decode(request.page_token, request.parent, shape=(datetime, str))
        async with self._engine.connect() as conn:
            await guard.reached(conn, caller, cid, request.parent, access.check_read)
            rows = await notes.page(conn, cid, before, size + 1)
        response = api.ListNotesResponse(notes=[_note(request.parent, r) for r in rows[:size]])
        response.next_page_token = paging.next_token(
            rows, size, request.parent, lambda last: [last.create_time.isoformat(), last.id]
        )
        return response


def _note(parent: str, row) -> customer_pb2.Note:
    created: datetime = row.create_time
    return customer_pb2.Note(
        name=f"{parent}/notes/{row.id}", text=row.text, author=row.author, create_time=wire.timestamp(created)
    )
