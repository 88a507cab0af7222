"""AssociateService over gRPC: stores, associates, hand-over, assignments, claims and the
client book. Each RPC reads its request into plain values and calls one use case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import grpc

from atelier.associate.v1 import assignment_pb2, associate_pb2, associate_service_pb2_grpc, store_pb2
from atelier.associate.v1 import associate_service_pb2 as api
from servicekit import names, paging
from servicekit.audit import AuditWriter
from servicekit.context import principal
from servicekit.errors import Violations, invalid
from servicekit.paging import Page
from servicekit.uow import Transactions, parse_etag

from ..domain import book as book_query
from ..domain import staff, stores
from ..domain.assignment import MAX_REASON, Role
from ..usecases import assignments, associates, book, claims, handover, privacy
from ..usecases import stores as store_cases
from . import filters, requests
from .directory_fields import ASSOCIATE, STORE

SERVICE_NAME = api.DESCRIPTOR.services_by_name["AssociateService"].full_name
Context = grpc.aio.ServicerContext[Any, Any]
# The keyset position of lists in creation order: (create_time, id).
BY_CREATION = (datetime, str)


class AssociateServicer(associate_service_pb2_grpc.AssociateServiceServicer):
    def __init__(self, tx: Transactions, audit: AuditWriter):
        self._tx = tx
        # Reads of personal data (client books) are audited off the request path (servicekit.audit).
        self._audit = audit

    # -- stores ------------------------------------------------------------------------

    async def GetStore(self, request: api.GetStoreRequest, context: Context) -> store_pb2.Store:
        principal()
        store_id = names.parse(request.name, "stores", "name")
        return await store_cases.get_store(self._tx, store_id, request.name)

    async def ListStores(self, request: api.ListStoresRequest, context: Context) -> api.ListStoresResponse:
        principal()
        region = filters.store_region(request.filter)
        page = requests.page(request.page_size, request.page_token, request.filter, BY_CREATION)
        return await store_cases.list_stores(self._tx, region, page)

    async def CreateStore(self, request: api.CreateStoreRequest, context: Context) -> store_pb2.Store:
        caller = principal()
        present = request.HasField("store")
        store_id, values = STORE.created(present, request.store, stores.UPDATABLE, request.store_id, request.request_id)
        return await store_cases.create_store(self._tx, caller, request, store_id, values)

    async def UpdateStore(self, request: api.UpdateStoreRequest, context: Context) -> store_pb2.Store:
        caller = principal()
        change = STORE.change(request.store, request.store.name, request.store.etag, request.update_mask.paths)
        return await store_cases.update_store(self._tx, caller, change)

    # -- associates --------------------------------------------------------------------

    async def GetAssociate(self, request: api.GetAssociateRequest, context: Context) -> associate_pb2.Associate:
        principal()
        associate_id = names.parse(request.name, "associates", "name")
        return await associates.get_associate(self._tx, associate_id, request.name)

    async def ListAssociates(self, request: api.ListAssociatesRequest, context: Context) -> api.ListAssociatesResponse:
        principal()
        equal = filters.associate_terms(request.filter)
        page = requests.page(request.page_size, request.page_token, request.filter, BY_CREATION)
        return await associates.list_associates(self._tx, equal, page)

    async def CreateAssociate(self, request: api.CreateAssociateRequest, context: Context) -> associate_pb2.Associate:
        caller = principal()
        new = request.associate
        # Status is optional on create (active unless said otherwise).
        fields = [f for f in staff.UPDATABLE if f != "status" or new.status]
        associate_id, values = ASSOCIATE.created(
            request.HasField("associate"), new, fields, request.associate_id, request.request_id
        )
        return await associates.create_associate(self._tx, caller, request, associate_id, values)

    async def UpdateAssociate(self, request: api.UpdateAssociateRequest, context: Context) -> associate_pb2.Associate:
        caller = principal()
        changed = request.associate
        change = ASSOCIATE.change(changed, changed.name, changed.etag, request.update_mask.paths)
        return await associates.update_associate(self._tx, caller, change)

    # -- hand-over -----------------------------------------------------------------------

    async def DepartAssociate(self, request: api.DepartAssociateRequest, context: Context) -> assignment_pb2.HandOver:
        caller = principal()
        violations = Violations()
        associate_id = requests.resource_id(violations, request.name, "associates", "name")
        successor_id = requests.optional_id(violations, request.successor, "associates", "successor")
        if successor_id and successor_id == associate_id:
            violations.add("successor", "must be another associate")
        expected = parse_etag(request.etag, "etag", violations)
        violations.raise_if_any()
        return await handover.depart_associate(
            self._tx, caller, associate_id, request.name, successor_id or None, request.successor, expected
        )

    async def GetHandOver(self, request: api.GetHandOverRequest, context: Context) -> assignment_pb2.HandOver:
        caller = principal()
        job_id = names.parse(request.name, "handOvers", "name")
        return await handover.get_hand_over(self._tx, caller, job_id, request.name)

    # -- assignments -------------------------------------------------------------------

    async def GetCustomerAssignment(
        self, request: api.GetCustomerAssignmentRequest, context: Context
    ) -> assignment_pb2.CustomerAssignment:
        caller = principal()
        customer_id = requests.customer_of_assignment(request.name)
        return await assignments.get_customer_assignment(self._tx, caller, customer_id, request.name)

    async def ListAssignmentHistory(
        self, request: api.ListAssignmentHistoryRequest, context: Context
    ) -> api.ListAssignmentHistoryResponse:
        caller = principal()
        customer_id = names.parse(request.parent, "customers", "parent")
        page = requests.page(request.page_size, request.page_token, request.parent, (int,))
        return await assignments.list_assignment_history(self._tx, caller, customer_id, request.parent, page)

    async def ListUnassigned(self, request: api.ListUnassignedRequest, context: Context) -> api.ListUnassignedResponse:
        caller = principal()
        page = requests.page(request.page_size, request.page_token, "pool", (datetime, str))
        return await assignments.list_unassigned(self._tx, caller, page)

    async def TransferClient(
        self, request: api.TransferClientRequest, context: Context
    ) -> assignment_pb2.CustomerAssignment:
        caller = principal()
        violations = Violations()
        customer_id = violations.take(requests.customer_of_assignment, request.name) or ""
        associate_id = requests.resource_id(violations, request.associate, "associates", "associate")
        role = request.role or Role.PRIMARY
        violations.require(role in list(Role), "role", "PRIMARY or SECONDARY")
        reason = requests.reason(violations, request.reason, "reason")
        requests.request_id(violations, request.request_id)
        violations.raise_if_any()
        return await assignments.transfer_customer(
            self._tx, caller, request, customer_id, associate_id, Role(role), reason
        )

    # -- claims ------------------------------------------------------------------------

    async def ClaimClient(self, request: api.ClaimClientRequest, context: Context) -> assignment_pb2.Claim:
        caller = principal()
        violations = Violations()
        customer_id = requests.resource_id(violations, request.claim.customer, "customers", "claim.customer")
        reason = requests.reason(violations, request.claim.reason, "claim.reason")
        requests.request_id(violations, request.request_id)
        violations.raise_if_any()
        return await claims.claim_customer(self._tx, caller, request, customer_id, reason)

    async def ListClaims(self, request: api.ListClaimsRequest, context: Context) -> api.ListClaimsResponse:
        caller = principal()
        page = requests.page(request.page_size, request.page_token, f"state={int(request.state)}", BY_CREATION)
        return await claims.list_claims(self._tx, caller, int(request.state), page)

    async def ApproveClaim(self, request: api.ApproveClaimRequest, context: Context) -> assignment_pb2.Claim:
        return await self._decide(request.name, request.note, approve=True)

    async def RejectClaim(self, request: api.RejectClaimRequest, context: Context) -> assignment_pb2.Claim:
        return await self._decide(request.name, request.note, approve=False)

    async def _decide(self, name: str, note_text: str, *, approve: bool) -> assignment_pb2.Claim:
        caller = principal()
        violations = Violations()
        claim_id = requests.resource_id(violations, name, "claims", "name")
        note = note_text.strip()
        violations.require(len(note) <= MAX_REASON, "note", f"at most {MAX_REASON} characters")
        if not approve:
            violations.require(bool(note), "note", "required: why the claim is rejected")
        violations.raise_if_any()
        return await claims.decide_claim(self._tx, caller, claim_id, name, approve=approve, note=note)

    # -- the client book ---------------------------------------------------------------

    async def ListClientBook(self, request: api.ListClientBookRequest, context: Context) -> api.ListClientBookResponse:
        caller = principal()
        kind, _, parent_id = request.parent.partition("/")
        if kind not in ("associates", "stores") or not parent_id or "/" in parent_id:
            raise invalid("parent", "must look like associates/<id> or stores/<id>")
        size = paging.page_size(request.page_size, default=book_query.DEFAULT_PAGE_SIZE)
        flt = book_query.parse_filter(request.filter)
        order = book_query.parse_order(request.order_by)
        query = f"{request.parent}|{request.filter}|{request.order_by}"
        page = Page(size, _book_position(paging.decode(request.page_token, query, shape=(str, str, str))), query)
        holder = parent_id if kind == "associates" else None
        store = parent_id if kind == "stores" else None
        read = requests.read_audit(context, "ListClientBook")
        return await book.list_book(
            self._tx,
            self._audit,
            caller,
            request.parent,
            read,
            associate_id=holder,
            store_id=store,
            flt=flt,
            order=order,
            page=page,
        )

    # -- a customer's data as a whole ---------------------------------------------------

    async def ExportCustomerData(
        self, request: api.ExportCustomerDataRequest, context: Context
    ) -> api.ExportCustomerDataResponse:
        caller = principal()
        customer_id = names.parse(request.name, "customers", "name")
        read = requests.read_audit(context, "ExportCustomerData")
        return await privacy.export_customer_data(self._tx, caller, customer_id, request.name, read)


def _book_position(position: list[object] | None) -> list[object] | None:
    """A book page token holds its sort key as text (the float's repr)."""
    if position is None:
        return None
    try:
        return [float(str(position[0])), *position[1:]]
    except ValueError:
        raise invalid("page_token", "not a page token issued by this API") from None
