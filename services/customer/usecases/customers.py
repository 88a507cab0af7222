"""Customer profiles: read one, list, search, create, update, delete. Every read of
profiles is audited (one record per customer shown)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from google.protobuf import empty_pb2

from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from servicekit import names
from servicekit.audit import AuditWriter
from servicekit.auth import Principal
from servicekit.errors import Violations
from servicekit.paging import Page
from servicekit.uow import Idempotent, Transactions, UnitOfWork, check_etag, parse_etag

from ..domain import access, profile
from ..domain import directory as directory_rules
from ..domain.computed_tags import TagRules
from ..domain.filters import CustomerFilter
from ..messages import customers as messages
from ..messages import events
from ..storage import customers, merges
from . import directory
from .assignments import hold_if_associate
from .audit_trail import ReadAudit
from .reach import disclosed, reached, required

# Fields whose change rebuilds the search text.
_SEARCHED = frozenset({"given_name", "family_name", "preferred_name", "contact_points"})


async def get_customer(
    tx: Transactions,
    rules: TagRules,
    audit: AuditWriter,
    caller: Principal,
    customer_id: str,
    resource: str,
    read: ReadAudit,
) -> customer_pb2.Customer:
    """A customer merged into another answers with the survivor; the read is audited."""
    async with tx.read() as conn:
        row = await merges.get_current(conn, customer_id)
    if row is None:
        raise access.missing(caller, resource)
    access.check_read(caller, access.check_present(caller, row.reach, resource), resource)
    audit.record(read.record(caller, f"customers/{row.id}"))
    return messages.customer(row, rules)


async def list_customers(
    tx: Transactions,
    rules: TagRules,
    audit: AuditWriter,
    caller: Principal,
    flt: CustomerFilter,
    page: Page,
    read: ReadAudit,
) -> api.ListCustomersResponse:
    async with tx.read() as conn:
        rows = await customers.list_page(conn, flt, access.scope(caller), page.position, page.limit)
    shown = rows[: page.size]
    read.record_each(audit, caller, [f"customers/{r.id}" for r in shown])
    response = api.ListCustomersResponse(customers=[messages.customer(r, rules) for r in shown])
    response.next_page_token = page.next_token(rows, lambda last: [last.create_time.isoformat(), last.id])
    return response


async def search_customers(
    tx: Transactions, rules: TagRules, audit: AuditWriter, caller: Principal, query: str, size: int, read: ReadAudit
) -> api.SearchCustomersResponse:
    async with tx.snapshot() as conn:
        hits = await customers.search(conn, query, access.scope(caller), size)
        rows = await customers.get_many(conn, [cid for cid, _ in hits])
    found = [(cid, score) for cid, score in hits if cid in rows and not rows[cid].erased]
    read.record_each(audit, caller, [f"customers/{cid}" for cid, _ in found])
    return api.SearchCustomersResponse(
        results=[
            api.SearchResult(customer=messages.customer(rows[cid], rules), score=round(score, 4))
            for cid, score in found
        ]
    )


async def create_customer(
    tx: Transactions,
    rules: TagRules,
    caller: Principal,
    values: dict[str, Any],
    referral_code: str,
    customer_id: str,
    request: api.CreateCustomerRequest,
) -> customer_pb2.Customer:
    """`values` are the validated profile; `customer_id` is the one asked for, or "".
    Her home store and referral code must be known to the directory."""
    access.check_chosen_id(caller, customer_id)
    values = {**values, "home_store": access.home_store_of_new(caller, values["home_store"])}
    access.check_create(caller, values["home_store"])
    await directory.check_references(
        tx,
        stores={"customer.home_store": values["home_store"]},
        referral_codes={"customer.referral_code": referral_code},
    )

    async def create(uow: UnitOfWork) -> customer_pb2.Customer:
        cid = customer_id or names.new_id()
        row = await customers.insert(uow.conn, cid, values, referral_code, profile.search_text(values))
        await hold_if_associate(uow, cid)
        created = messages.customer(row, rules)
        uow.emit(events.created(created, caller.subject))
        return created

    try:
        return await tx.run(caller, create, idempotent=Idempotent("CreateCustomer", request, customer_pb2.Customer))
    except customers.ContactPointTaken as taken:
        raise await disclosed(tx, caller, taken) from None


async def update_customer(
    tx: Transactions,
    rules: TagRules,
    caller: Principal,
    customer_id: str,
    resource: str,
    paths: set[str],
    given: profile.ProfileInput,
    etag: str,
    violations: Violations,
) -> customer_pb2.Customer:
    """Change the fields in `paths`. `violations` are those the api found in the request;
    the profile's are added (reading it may need her stored locale) and all are raised
    together before anything is written."""
    if "contact_points" in paths and "locale" not in paths:
        # National phone numbers are read in the region of the locale the customer has,
        # not of a locale field the mask leaves out.
        async with tx.read() as conn:
            given = replace(given, locale=await customers.locale_of(conn, customer_id) or "")
    values = profile.read(given, tuple(paths), "customer.", violations)
    expected = parse_etag(etag, "customer.etag", violations)
    violations.raise_if_any()
    # A move needs a store the directory knows; an unchanged home store is never refused.
    known = await directory.known(tx, [values.get("home_store", "")])

    try:
        async with tx.begin(caller) as uow:
            reach, version = await reached(uow.conn, caller, customer_id, resource, access.check_write, lock=True)
            if "home_store" in values:
                access.check_move(caller, reach.home_store, values["home_store"], resource)
                if values["home_store"] != reach.home_store:
                    moves = Violations()
                    directory_rules.check_home_store(values["home_store"], known, "customer.home_store", moves)
                    moves.raise_if_any()
            check_etag(expected, version)
            if paths & _SEARCHED:
                merged = {**await customers.search_inputs(uow.conn, customer_id), **values}
                profile.check_named(merged, "customer.")
                values["search_text"] = profile.search_text(merged)
            await customers.update(uow.conn, customer_id, values)
            updated = messages.customer(required(await customers.get(uow.conn, customer_id), resource), rules)
            uow.emit(events.updated(updated, sorted(paths), caller.subject))
    except customers.ContactPointTaken as taken:
        raise await disclosed(tx, caller, taken) from None
    return updated


async def delete_customer(
    tx: Transactions, caller: Principal, customer_id: str, resource: str, expected: int | None
) -> empty_pb2.Empty:
    async with tx.begin(caller) as uow:
        _, version = await reached(uow.conn, caller, customer_id, resource, access.check_delete, lock=True)
        check_etag(expected, version)
        await customers.delete(uow.conn, customer_id)
        uow.emit(events.deleted(resource, caller.subject))
    return empty_pb2.Empty()
