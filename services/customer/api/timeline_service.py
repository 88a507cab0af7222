"""TimelineService over gRPC: touchpoints recorded from every channel and the merged
timeline; each RPC reads its request and calls one use case."""

from __future__ import annotations

from datetime import UTC, datetime

from atelier.customer.v1 import interaction_pb2, timeline_service_pb2_grpc
from atelier.customer.v1 import timeline_service_pb2 as api
from servicekit import names, paging
from servicekit.audit import AuditWriter
from servicekit.context import principal
from servicekit.errors import Violations, invalid
from servicekit.uow import Transactions

from ..domain import interactions
from ..domain.timeline import ENTRY_KINDS
from ..usecases import timeline
from . import requests
from .requests import Context


class TimelineServicer(timeline_service_pb2_grpc.TimelineServiceServicer):
    def __init__(self, tx: Transactions, audit: AuditWriter):
        self._tx = tx
        # Reading a timeline reads personal data: audited like GetCustomer.
        self._audit = audit

    async def RecordInteraction(
        self, request: api.RecordInteractionRequest, context: Context
    ) -> interaction_pb2.Interaction:
        caller = principal()
        now = datetime.now(UTC)
        violations = Violations()
        cid = requests.customer_id(request.parent, "parent", violations)
        if not request.HasField("interaction"):
            violations.add("interaction", "required")
        new = interactions.read(requests.interaction_input(request.interaction), "interaction.", violations, now)
        violations.raise_if_any()
        return await timeline.record_interaction(self._tx, caller, cid, request.parent, new)

    async def ListTimeline(self, request: api.ListTimelineRequest, context: Context) -> api.ListTimelineResponse:
        caller = principal()
        cid = names.parse(request.parent, "customers", "parent")
        size = paging.page_size(request.page_size)
        violations = Violations()
        for i, kind in enumerate(request.kinds):
            violations.require(kind in ENTRY_KINDS, f"kinds[{i}]", "one of INTERACTION, PURCHASE, NOTE, CONSENT_CHANGE")
        for i, interaction_kind in enumerate(request.interaction_kinds):
            violations.require(
                interactions.is_known_kind(interaction_kind), f"interaction_kinds[{i}]", "an InteractionKind"
            )
        violations.raise_if_any()
        kinds = {int(k) for k in request.kinds} or set(ENTRY_KINDS)
        interaction_kinds = sorted({int(k) for k in request.interaction_kinds})
        query = f"{request.parent}|{sorted(kinds)}|{interaction_kinds}"
        page = requests.page(size, request.page_token, query, (datetime, int, str))
        if page.position is not None and page.position[1] not in ENTRY_KINDS:
            raise invalid("page_token", "not a page token issued by this API")
        read = requests.read_audit(context, "ListTimeline")
        return await timeline.list_timeline(
            self._tx, self._audit, caller, cid, request.parent, kinds, interaction_kinds, page, read
        )
