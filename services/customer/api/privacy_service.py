"""PrivacyService over gRPC: export and erasure of one person, the audit trail; each RPC
reads its request and calls one use case."""

from __future__ import annotations

import json
from datetime import datetime

from atelier.customer.v1 import privacy_service_pb2 as api
from atelier.customer.v1 import privacy_service_pb2_grpc
from servicekit import names, paging
from servicekit.auth import PRINCIPAL_METADATA_KEY
from servicekit.context import principal, request_id
from servicekit.errors import Violations, invalid
from servicekit.uow import Transactions

from ..domain import erasure, stewardship
from ..domain.computed_tags import TagRules
from ..usecases import privacy
from ..usecases.associate_export import DEADLINE_SECONDS, AssociateExports, Forwarded
from . import requests
from .requests import Context


class PrivacyServicer(privacy_service_pb2_grpc.PrivacyServiceServicer):
    def __init__(self, tx: Transactions, tag_rules: TagRules, associate: AssociateExports | None):
        self._tx = tx
        self._rules = tag_rules
        # The associate service, asked for what it holds about her (None: not configured).
        self._associate = associate

    async def ExportCustomer(self, request: api.ExportCustomerRequest, context: Context) -> api.ExportCustomerResponse:
        caller = principal()
        cid = names.parse(request.name, "customers", "name")
        read = requests.read_audit(context, "ExportCustomer")
        forwarded = _forwarded(context)
        return await privacy.export_customer(
            self._tx, self._rules, caller, cid, request.name, read, self._associate, forwarded
        )

    async def EraseCustomer(self, request: api.EraseCustomerRequest, context: Context) -> api.EraseCustomerResponse:
        caller = principal()
        violations = Violations()
        cid = requests.customer_id(request.name, "name", violations)
        reason = erasure.read_reason(request.reason, violations)
        violations.raise_if_any()
        return await privacy.erase_customer(self._tx, caller, cid, request.name, reason)

    async def ListAuditRecords(
        self, request: api.ListAuditRecordsRequest, context: Context
    ) -> api.ListAuditRecordsResponse:
        caller = principal()
        # Headquarters only, refused before the request is read.
        stewardship.check_audit(caller)
        resource = None
        if request.customer:
            resource = f"customers/{names.parse(request.customer, 'customers', 'customer')}"
        start, end = requests.time_of(request, "start_time"), requests.time_of(request, "end_time")
        if start and end and start >= end:
            raise invalid("end_time", "must be after start_time")
        size = paging.page_size(request.page_size)
        query = json.dumps([resource, request.actor, start and start.isoformat(), end and end.isoformat()])
        page = requests.page(size, request.page_token, query, (datetime, int))
        return await privacy.list_audit_records(self._tx, resource, request.actor or None, start, end, page)


def _forwarded(context: Context) -> Forwarded:
    """What an internal call made for this request carries: the caller's own principal
    token (verified by the interceptor), her request id, and the time left of her
    deadline (at most DEADLINE_SECONDS)."""
    token = next(
        (v for k, v in context.invocation_metadata() or () if k == PRINCIPAL_METADATA_KEY and isinstance(v, str)), ""
    )
    remaining = context.time_remaining()
    timeout = DEADLINE_SECONDS if remaining is None else max(0.0, min(DEADLINE_SECONDS, remaining - 0.2))
    return Forwarded(principal_token=token, request_id=request_id(), timeout=timeout)
