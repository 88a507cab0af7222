"""PrivacyService over gRPC: export and erasure of one person, the audit trail."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from google.protobuf import json_format
from sqlalchemy.ext.asyncio import AsyncEngine

from atelier.customer.v1 import privacy_service_pb2 as api, privacy_service_pb2_grpc
from servicekit import audit, context, names, outbox, paging, wire
from servicekit.errors import Violations, invalid

from . import audit_trail, events
from .domain import access, stewardship
from .domain.computed_tags import TagRules
from .storage import mapping, merges, privacy

MAX_REASON = 500


class PrivacyServicer(privacy_service_pb2_grpc.PrivacyServiceServicer):
    def __init__(self, engine: AsyncEngine, tag_rules: TagRules | None = None):
        self._engine = engine
        self._tag_rules = tag_rules or TagRules()

    async def ExportCustomer(self, request, context_):
        caller = context.principal()
        cid = names.parse(request.name, "customers", "name")
        async with self._engine.begin() as conn:
            row = await merges.get_current(conn, cid)
            if row is None:
                raise access.missing(caller, request.name)
            stewardship.check_export(caller, row.reach, request.name)
            held = await privacy.export_rows(conn, row.id)
            # An export is a bulk disclosure: its record commits with it, not later.
            await audit.write_now(conn, audit_trail.read_record(context_, "ExportCustomer", f"customers/{row.id}"))
        now = datetime.now(timezone.utc)
        document = {
            "format": "atelier.customer.export/v1",
            "export_time": now.isoformat(),
            "customer": json_format.MessageToDict(mapping.customer(row, self._tag_rules)),
            **{table: rows for table, rows in held.items()},
        }
        response = api.ExportCustomerResponse(json=json.dumps(document, ensure_ascii=False, default=str))
        response.export_time.FromDatetime(now)
        return response

    async def EraseCustomer(self, request, context_):
        caller = context.principal()
        violations = Violations()
        try:
            cid = names.parse(request.name, "customers", "name")
        except Exception as exc:
            violations.items.extend(exc.violations)
        reason = " ".join(request.reason.split())
        violations.require(0 < len(reason) <= MAX_REASON, "reason", f"required: the grounds, at most {MAX_REASON} characters")
        violations.raise_if_any()
        stewardship.check_erase(caller)
        async with self._engine.begin() as conn:
            target = cid
            if not await merges.lock(conn, [cid]):
                target = await merges.resolve(conn, cid)
                if not target or not await merges.lock(conn, [target]):
                    raise access.missing(caller, request.name)
            erase_time, counts = await privacy.erase(conn, target, caller.subject, reason)
            name = f"customers/{target}"
            await outbox.record(conn, events.erased(name, caller.subject))
        response = api.EraseCustomerResponse(name=name, erased=counts)
        response.erase_time.FromDatetime(erase_time)
        return response

    async def ListAuditRecords(self, request, context_):
        caller = context.principal()
        stewardship.check_audit(caller)
        resource = None
        if request.customer:
            resource = f"customers/{names.parse(request.customer, 'customers', 'customer')}"
        start = request.start_time.ToDatetime(timezone.utc) if request.HasField("start_time") else None
        end = request.end_time.ToDatetime(timezone.utc) if request.HasField("end_time") else None
        if start and end and start >= end:
            raise invalid("end_time", "must be after start_time")
        size = paging.page_size(request.page_size)
        query = json.dumps([resource, request.actor, start and start.isoformat(), end and end.isoformat()])
        before = paging.decode(request.page_token, query, shape=(datetime, int))
        async with self._engine.connect() as conn:
            rows = await privacy.audit_page(
                conn, resource=resource, actor=request.actor or None, start=start, end=end, before=before, limit=size + 1
            )
        response = api.ListAuditRecordsResponse(
            audit_records=[
                api.AuditRecord(
                    actor=r.actor, role=r.role, action=r.action, resource=r.resource, purpose=r.purpose,
                    request_id=r.request_id, occur_time=wire.timestamp(r.occur_time),
                )
                for r in rows[:size]
            ]
        )
        response.next_page_token = paging.next_token(
            rows, size, query, lambda last: [last.occur_time.isoformat(), last.id]
        )
        return response
