"""TimelineService over gRPC: touchpoints recorded from every channel, and the merged
timeline of interactions, purchases, notes and consent changes."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncEngine

from atelier.customer.v1 import customer_pb2, interaction_pb2, timeline_service_pb2 as api, timeline_service_pb2_grpc
from servicekit import context, names, outbox, paging, wire
from servicekit.audit import AuditWriter
from servicekit.errors import AlreadyExists, Violations, invalid

from . import audit_trail, events, guard
from .domain import access, interactions as rules
from .storage import interactions, purchase_mapping, purchases, timeline

EntryKind = api.TimelineEntryKind
_KINDS = {
    EntryKind.TIMELINE_ENTRY_KIND_INTERACTION: timeline.INTERACTION,
    EntryKind.TIMELINE_ENTRY_KIND_PURCHASE: timeline.PURCHASE,
    EntryKind.TIMELINE_ENTRY_KIND_NOTE: timeline.NOTE,
    EntryKind.TIMELINE_ENTRY_KIND_CONSENT_CHANGE: timeline.CONSENT_CHANGE,
}


class TimelineServicer(timeline_service_pb2_grpc.TimelineServiceServicer):
    def __init__(self, engine: AsyncEngine, audit: AuditWriter):
        self._engine = engine
        # Reading a timeline reads personal data: audited like GetCustomer.
        self._audit = audit

    async def RecordInteraction(self, request, context_):
        caller = context.principal()
        now = datetime.now(timezone.utc)
        violations = Violations()
        try:
            cid = names.parse(request.parent, "customers", "parent")
        except Exception as exc:  # collected with the rest
            violations.items.extend(exc.violations)
        if not request.HasField("interaction"):
            violations.add("interaction", "required")
        new = rules.read(request.interaction, "interaction.", violations, now)
        violations.raise_if_any()

        async with self._engine.begin() as conn:
            await guard.reached(conn, caller, cid, request.parent, access.check_write)
            row, fresh = await interactions.insert(conn, names.new_id(), cid, new)
            recorded = purchase_mapping.interaction(row)
            if not fresh:
                if row.customer_id != cid:
                    raise AlreadyExists(
                        f"{new.external_id} was already recorded for another customer",
                        reason="INTERACTION_EXISTS",
                        metadata={"external_id": new.external_id},
                    )
                return recorded  # a replayed webhook records nothing
            await outbox.record(conn, events.interaction_recorded(request.parent, recorded, caller.subject))
        return recorded

    async def ListTimeline(self, request, context_):
        caller = context.principal()
        cid = names.parse(request.parent, "customers", "parent")
        size = paging.page_size(request.page_size)
        violations = Violations()
        for i, kind in enumerate(request.kinds):
            violations.require(kind in _KINDS, f"kinds[{i}]", "one of INTERACTION, PURCHASE, NOTE, CONSENT_CHANGE")
        for i, kind in enumerate(request.interaction_kinds):
            violations.require(
                kind != 0 and kind in interaction_pb2.InteractionKind.values(), f"interaction_kinds[{i}]",
                "an InteractionKind",
            )
        violations.raise_if_any()
        kinds = {_KINDS[k] for k in request.kinds} or set(_KINDS.values())
        ikinds = sorted({int(k) for k in request.interaction_kinds})
        query = f"{request.parent}|{sorted(kinds)}|{ikinds}"
        before = paging.decode(request.page_token, query, shape=(datetime, int, str))
        if before is not None and before[1] not in _KINDS.values():
            raise invalid("page_token", "not a page token issued by this API")

        async with self._engine.connect() as conn:
            await guard.reached(conn, caller, cid, request.parent, access.check_read)
            self._audit.record(audit_trail.read_record(context_, "ListTimeline", request.parent))
            keys = await timeline.page(conn, cid, kinds, ikinds, before, size + 1)
            shown = keys[:size]
            ids = lambda k: [i for _, kind, i in shown if kind == k]  # noqa: E731
            found_interactions = await interactions.get_many(conn, ids(timeline.INTERACTION))
            found_purchases = await purchases.get_many(conn, ids(timeline.PURCHASE))
            found_notes = await timeline.notes(conn, ids(timeline.NOTE))
            found_consents = await timeline.consent_changes(conn, [int(i) for i in ids(timeline.CONSENT_CHANGE)])

        response = api.ListTimelineResponse()
        for when, kind, key in shown:
            entry = response.entries.add(occur_time=wire.timestamp(when))
            if kind == timeline.INTERACTION:
                entry.interaction.CopyFrom(purchase_mapping.interaction(found_interactions[key]))
            elif kind == timeline.PURCHASE:
                entry.purchase.CopyFrom(purchase_mapping.purchase(found_purchases[key]))
            elif kind == timeline.NOTE:
                note = found_notes[key]
                entry.note.CopyFrom(
                    customer_pb2.Note(
                        name=f"{request.parent}/notes/{note.id}", text=note.text, author=note.author,
                        create_time=wire.timestamp(note.create_time),
                    )
                )
            else:
                change = found_consents[int(key)]
                entry.consent_change.CopyFrom(
                    customer_pb2.ConsentChange(
                        channel=change.channel, purpose=change.purpose, granted=change.granted,
                        source=change.source, actor=change.actor, change_time=wire.timestamp(change.change_time),
                    )
                )
        response.next_page_token = paging.next_token(
            keys, size, query, lambda last: [last[0].isoformat(), last[1], last[2]]
        )
        return response
