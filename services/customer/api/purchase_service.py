"""PurchaseService over gRPC: orders and returns from POS and e-commerce; each RPC reads
its request and calls one use case."""

from __future__ import annotations

from datetime import UTC, datetime

from atelier.customer.v1 import purchase_pb2, purchase_service_pb2_grpc
from atelier.customer.v1 import purchase_service_pb2 as api
from servicekit.audit import AuditWriter
from servicekit.context import principal
from servicekit.errors import Violations
from servicekit.uow import Transactions

from ..domain import profile, purchases
from ..domain.computed_tags import TagRules
from ..usecases import purchases as purchase_cases
from . import requests
from .requests import Context

# What identifies (and, if need be, creates) an unknown client at the till.
_UNKNOWN_CLIENT = ("contact_points", "given_name", "family_name", "locale")


class PurchaseServicer(purchase_service_pb2_grpc.PurchaseServiceServicer):
    def __init__(self, tx: Transactions, tag_rules: TagRules, audit: AuditWriter):
        self._tx = tx
        self._rules = tag_rules
        # Reading purchases reads personal data: audited like GetCustomer.
        self._audit = audit

    async def GetPurchase(self, request: api.GetPurchaseRequest, context: Context) -> purchase_pb2.Purchase:
        caller = principal()
        cid, pid = requests.purchase_name(request.name, "name")
        read = requests.read_audit(context, "GetPurchase")
        return await purchase_cases.get_purchase(self._tx, self._audit, caller, cid, pid, request.name, read)

    async def ListPurchases(self, request: api.ListPurchasesRequest, context: Context) -> api.ListPurchasesResponse:
        caller = principal()
        cid, page = requests.child_page(request.parent, request.page_size, request.page_token, (datetime, str))
        read = requests.read_audit(context, "ListPurchases")
        return await purchase_cases.list_purchases(self._tx, self._audit, caller, cid, request.parent, page, read)

    async def RecordPurchase(self, request: api.RecordPurchaseRequest, context: Context) -> purchase_pb2.Purchase:
        caller = principal()
        now = datetime.now(UTC)
        violations = Violations()
        cid = None
        if request.customer:
            cid = requests.customer_id(request.customer, "customer", violations)
            if request.contact_points:
                violations.add("contact_points", "give either customer or contact_points, not both")
        elif not request.contact_points:
            violations.add("customer", "required: the customer, or contact_points of an unknown client")
        unknown = None
        if not request.customer:
            unknown = profile.read(requests.contact_input(request), _UNKNOWN_CLIENT, "", violations)
        if not request.HasField("purchase"):
            violations.add("purchase", "required")
        new = purchases.read(requests.purchase_input(request.purchase), "purchase.", violations, now)
        violations.raise_if_any()
        return await purchase_cases.record_purchase(self._tx, self._rules, caller, cid, unknown, new)

    async def RecordReturn(self, request: api.RecordReturnRequest, context: Context) -> purchase_pb2.Purchase:
        caller = principal()
        now = datetime.now(UTC)
        violations = Violations()
        cid, pid = violations.take(requests.purchase_name, request.name, "name") or ("", "")
        new = purchases.read_return(requests.return_input(request), violations, now)
        violations.raise_if_any()
        return await purchase_cases.record_return(self._tx, self._rules, caller, cid, pid, request.name, new)
