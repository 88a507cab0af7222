"""CustomerService over gRPC: each RPC reads its request and calls one use case."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from google.protobuf import empty_pb2

from atelier.customer.v1 import customer_pb2, customer_service_pb2_grpc
from atelier.customer.v1 import customer_service_pb2 as api
from servicekit import idempotency, names, paging
from servicekit.audit import AuditWriter
from servicekit.context import principal
from servicekit.errors import Violations, invalid
from servicekit.uow import Transactions, parse_etag, update_paths

from ..domain import consent, contacts, filters, merging, notes, profile, segments, stewardship
from ..domain.computed_tags import TagRules
from ..usecases import consents as consent_cases
from ..usecases import customers, imports, merges
from ..usecases import notes as note_cases
from ..usecases import segments as segment_cases
from . import requests
from .requests import Context

MAX_SEARCH_RESULTS = 50
DEFAULT_CHUNK = 500
MAX_CHUNK = 1000


class CustomerServicer(customer_service_pb2_grpc.CustomerServiceServicer):
    def __init__(self, tx: Transactions, tag_rules: TagRules, audit: AuditWriter):
        self._tx = tx
        # Day counts of the time-based computed tags, derived when a customer is read.
        self._rules = tag_rules
        # Reads of personal data are audited off the request path (servicekit.audit).
        self._audit = audit

    # -- profiles ----------------------------------------------------------------

    async def GetCustomer(self, request: api.GetCustomerRequest, context: Context) -> customer_pb2.Customer:
        caller = principal()
        cid = names.parse(request.name, "customers", "name")
        read = requests.read_audit(context, "GetCustomer")
        return await customers.get_customer(self._tx, self._rules, self._audit, caller, cid, request.name, read)

    async def ListCustomers(self, request: api.ListCustomersRequest, context: Context) -> api.ListCustomersResponse:
        caller = principal()
        size = paging.page_size(request.page_size)
        flt = filters.parse(request.filter)
        page = requests.page(size, request.page_token, request.filter, (datetime, str))
        read = requests.read_audit(context, "ListCustomers")
        return await customers.list_customers(self._tx, self._rules, self._audit, caller, flt, page, read)

    async def SearchCustomers(
        self, request: api.SearchCustomersRequest, context: Context
    ) -> api.SearchCustomersResponse:
        caller = principal()
        query = contacts.read_search_query(request.query)
        size = paging.page_size(request.page_size, default=10, maximum=MAX_SEARCH_RESULTS)
        read = requests.read_audit(context, "SearchCustomers")
        return await customers.search_customers(self._tx, self._rules, self._audit, caller, query, size, read)

    async def CreateCustomer(self, request: api.CreateCustomerRequest, context: Context) -> customer_pb2.Customer:
        caller = principal()
        violations = Violations()
        if not request.HasField("customer"):
            violations.add("customer", "required")
        given = requests.profile_input(request.customer)
        values = profile.read(given, profile.UPDATABLE, "customer.", violations)
        profile.check_new(values, given.referral_code, "customer.", violations)
        profile.check_customer_id(request.customer_id, violations)
        violations.take(idempotency.check_request_id, request.request_id)
        violations.raise_if_any()
        return await customers.create_customer(
            self._tx, self._rules, caller, values, given.referral_code, request.customer_id, request
        )

    async def UpdateCustomer(self, request: api.UpdateCustomerRequest, context: Context) -> customer_pb2.Customer:
        caller = principal()
        name = request.customer.name
        cid = names.parse(name, "customers", "customer.name")
        violations = Violations()
        paths = update_paths(request.update_mask.paths, profile.UPDATABLE, profile.OUTPUT_ONLY, violations)
        given = requests.profile_input(request.customer)
        return await customers.update_customer(
            self._tx, self._rules, caller, cid, name, paths, given, request.customer.etag, violations
        )

    async def DeleteCustomer(self, request: api.DeleteCustomerRequest, context: Context) -> empty_pb2.Empty:
        caller = principal()
        cid = names.parse(request.name, "customers", "name")
        violations = Violations()
        expected = parse_etag(request.etag, "etag", violations)
        violations.raise_if_any()
        return await customers.delete_customer(self._tx, caller, cid, request.name, expected)

    # -- consent -----------------------------------------------------------------

    async def GrantConsent(self, request: api.GrantConsentRequest, context: Context) -> customer_pb2.Customer:
        return await self._record_answer(request, granted=True)

    async def WithdrawConsent(self, request: api.WithdrawConsentRequest, context: Context) -> customer_pb2.Customer:
        return await self._record_answer(request, granted=False)

    async def _record_answer(
        self, request: api.GrantConsentRequest | api.WithdrawConsentRequest, *, granted: bool
    ) -> customer_pb2.Customer:
        caller = principal()
        violations = Violations()
        cid = requests.customer_id(request.name, "name", violations)
        choice = consent.read_choice(request.channel, request.purpose, granted, request.source, violations)
        violations.raise_if_any()
        return await consent_cases.record_answer(self._tx, self._rules, caller, cid, request.name, choice)

    async def ListConsentChanges(
        self, request: api.ListConsentChangesRequest, context: Context
    ) -> api.ListConsentChangesResponse:
        caller = principal()
        cid, page = requests.child_page(request.parent, request.page_size, request.page_token, (int,))
        read = requests.read_audit(context, "ListConsentChanges")
        return await consent_cases.list_answers(self._tx, self._audit, caller, cid, request.parent, page, read)

    # -- notes -------------------------------------------------------------------

    async def CreateNote(self, request: api.CreateNoteRequest, context: Context) -> customer_pb2.Note:
        caller = principal()
        violations = Violations()
        cid = requests.customer_id(request.parent, "parent", violations)
        text = notes.read_text(request.note.text, violations)
        violations.take(idempotency.check_request_id, request.request_id)
        violations.raise_if_any()
        return await note_cases.create_note(self._tx, caller, cid, request.parent, text, request)

    async def ListNotes(self, request: api.ListNotesRequest, context: Context) -> api.ListNotesResponse:
        caller = principal()
        cid, page = requests.child_page(request.parent, request.page_size, request.page_token, (datetime, str))
        read = requests.read_audit(context, "ListNotes")
        return await note_cases.list_notes(self._tx, self._audit, caller, cid, request.parent, page, read)

    # -- bulk --------------------------------------------------------------------

    async def ImportCustomers(
        self, request_iterator: AsyncIterator[api.ImportCustomersRequest], context: Context
    ) -> api.ImportCustomersResponse:
        caller = principal()
        batches = requests.import_batches(request_iterator)
        return await imports.import_customers(self._tx, self._rules, caller, batches)

    async def StreamCustomers(
        self, request: api.StreamCustomersRequest, context: Context
    ) -> AsyncIterator[api.StreamCustomersResponse]:
        caller = principal()
        # Headquarters and internal services only, refused before the request is read.
        stewardship.check_stream(caller)
        flt = segments.parse(requests.segment_input(request.segment), datetime.now(UTC).date())
        chunk = request.chunk_size or DEFAULT_CHUNK
        if not 0 < chunk <= MAX_CHUNK:
            raise invalid("chunk_size", f"1-{MAX_CHUNK}")
        read = requests.read_audit(context, "StreamCustomers")
        async for reply in segment_cases.stream_customers(self._tx, self._rules, self._audit, caller, flt, chunk, read):
            yield reply

    # -- duplicates and merges ---------------------------------------------------

    async def FindDuplicates(self, request: api.FindDuplicatesRequest, context: Context) -> api.FindDuplicatesResponse:
        caller = principal()
        # Headquarters and internal services only, refused before the request is read.
        stewardship.check_find_duplicates(caller)
        cid = names.parse(request.customer, "customers", "customer") if request.customer else None
        size = paging.page_size(request.page_size)
        min_score = request.min_score or merging.DEFAULT_MIN_SCORE
        if not 0 <= min_score <= 1:
            raise invalid("min_score", "between 0 and 1")
        read = requests.read_audit(context, "FindDuplicates")
        return await merges.find_duplicates(self._tx, self._audit, caller, cid, min_score, size, read)

    async def MergeCustomers(self, request: api.MergeCustomersRequest, context: Context) -> api.Merge:
        caller = principal()
        violations = Violations()
        survivor = requests.customer_id(request.survivor, "survivor", violations)
        duplicate = requests.customer_id(request.duplicate, "duplicate", violations)
        merging.check_distinct(survivor, duplicate, violations)
        violations.take(idempotency.check_request_id, request.request_id)
        violations.raise_if_any()
        return await merges.merge_customers(self._tx, caller, survivor, duplicate, request)

    async def UnmergeCustomers(self, request: api.UnmergeCustomersRequest, context: Context) -> api.Merge:
        caller = principal()
        merge_id = names.parse(request.name, "merges", "name")
        return await merges.unmerge_customers(self._tx, self._rules, caller, merge_id, request.name)

    async def GetMerge(self, request: api.GetMergeRequest, context: Context) -> api.Merge:
        caller = principal()
        merge_id = names.parse(request.name, "merges", "name")
        return await merges.get_merge(self._tx, caller, merge_id, request.name)
