"""Consent answers: recording one (GrantConsent, WithdrawConsent) and her history."""

from __future__ import annotations

from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from servicekit.audit import AuditWriter
from servicekit.auth import Principal
from servicekit.paging import Page
from servicekit.uow import Transactions

from ..domain import access, consent
from ..domain.computed_tags import TagRules
from ..messages import customers as messages
from ..messages import events
from ..storage import consents, customers
from .audit_trail import ReadAudit
from .reach import reached, read_of, required


async def record_answer(
    tx: Transactions, rules: TagRules, caller: Principal, customer_id: str, resource: str, choice: consent.Choice
) -> customer_pb2.Customer:
    """Every answer joins her history (evidence); consent_changed only when it changed her consent."""
    async with tx.begin(caller) as uow:
        await reached(uow.conn, caller, customer_id, resource, access.check_write, lock=True)
        before = required(await customers.get(uow.conn, customer_id), resource)
        was = consent.answer_for(before.consents, choice.channel, choice.purpose)
        changed_at = await consents.record(uow.conn, customer_id, choice, caller.subject)
        await customers.update(uow.conn, customer_id, {})
        after = required(await customers.get(uow.conn, customer_id), resource)
        if consent.changes(was, choice.granted):
            answer = consent.Answer(
                choice.channel, choice.purpose, choice.granted, choice.source, caller.subject, changed_at
            )
            uow.emit(events.consent_changed(resource, messages.consent(answer), caller.subject))
        return messages.customer(after, rules)


async def list_answers(
    tx: Transactions,
    audit: AuditWriter,
    caller: Principal,
    customer_id: str,
    resource: str,
    page: Page,
    read: ReadAudit,
) -> api.ListConsentChangesResponse:
    """Her consent history (a read of personal data: audited)."""
    before = page.position[0] if page.position else None
    rows = await read_of(
        tx, caller, customer_id, resource, lambda conn: consents.page(conn, customer_id, before, page.limit)
    )
    audit.record(read.record(caller, f"customers/{customer_id}"))
    response = api.ListConsentChangesResponse(
        consent_changes=[messages.consent_change(answer) for _, answer in rows[: page.size]]
    )
    response.next_page_token = page.next_token(rows, lambda last: [last[0]])
    return response
