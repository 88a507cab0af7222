"""A person's data as a whole: her export (GDPR art. 15/20), her erasure, and the audit
trail of reads of personal data."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from atelier.customer.v1 import privacy_service_pb2 as api
from servicekit import audit, idempotency, outbox
from servicekit.auth import Principal
from servicekit.paging import Page
from servicekit.uow import Transactions

from ..domain import access, erasure, stewardship
from ..domain.computed_tags import TagRules
from ..messages import customers as customer_messages
from ..messages import events
from ..messages import privacy as messages
from ..storage import merges, privacy
from ..storage.customers import CustomerRow
from .associate_export import AssociateExports, Forwarded
from .audit_trail import ReadAudit


async def export_customer(
    tx: Transactions,
    rules: TagRules,
    caller: Principal,
    customer_id: str,
    name: str,
    read: ReadAudit,
    associate: AssociateExports | None,
    forwarded: Forwarded,
) -> api.ExportCustomerResponse:
    """Everything every service holds about her, in one document: this service's rows,
    and the associate service's (asked over gRPC with the caller's principal, outside
    any transaction; it failing fails the export). An export is a bulk disclosure: its
    audit record commits with it, once everything is gathered."""
    async with tx.snapshot() as conn:
        row = await _exportable(conn, caller, customer_id, name)
    elsewhere = {} if associate is None else {"associate": await associate.held(f"customers/{row.id}", forwarded)}
    async with tx.begin(caller) as uow:
        row = await _exportable(uow.conn, caller, customer_id, name)
        held = await privacy.export_rows(uow.conn, row.id)
        await audit.write_now(uow.conn, read.record(caller, f"customers/{row.id}"))
    missing = [] if associate is not None else ["associate"]
    return messages.export(customer_messages.customer(row, rules), held, elsewhere, missing, datetime.now(UTC))


async def _exportable(conn: AsyncConnection, caller: Principal, customer_id: str, name: str) -> CustomerRow:
    row = await merges.get_current(conn, customer_id)
    if row is None:
        raise access.missing(caller, name)
    stewardship.check_export(caller, access.check_present(caller, row.reach, name), name)
    return row


async def erase_customer(
    tx: Transactions, caller: Principal, customer_id: str, name: str, reason: str
) -> api.EraseCustomerResponse:
    """Erase her (or the survivor her merged-away id now resolves to), the ids merged into
    her with her: her rows, her events in the outbox, the stored replies of requests about
    her (kept as tombstones: replaying her create is refused), and her messages in the
    event stream (a purge once what went before is out; servicekit.outbox)."""
    stewardship.check_erase(caller)
    async with tx.begin(caller) as uow:
        target = customer_id
        if not await merges.lock(uow.conn, [customer_id]):
            resolved = await merges.resolve(uow.conn, customer_id)
            if not resolved or not await merges.lock(uow.conn, [resolved]):
                raise access.missing(caller, name)
            target = resolved
        plan = erasure.plan(await privacy.customer_tables(uow.conn))
        erased = await privacy.erase(uow.conn, target, plan, caller.subject, reason)
        everyone = set(erased.customers)
        withdrawn = [
            (reply.method, reply.request_id)
            for reply in await idempotency.stored_replies(uow.conn, erased.customers)
            if erasure.withdraws_reply(reply.method)
            and messages.customers_named(reply.method, reply.response) & everyone
        ]
        counts = {
            **erased.counts,
            "idempotency_keys": await idempotency.withdraw(uow.conn, withdrawn, erasure.ERASED_REQUEST),
        }
        # Her subjects are purged from the stream after every event recorded before; then
        # every service hears of it (the erased events name her by id only, never purged).
        uow.emit(
            *(outbox.purge_request(erased_name) for erased_name in erased.customers),
            *(events.erased(erased_name, caller.subject) for erased_name in erased.customers),
        )
    return messages.erasure(f"customers/{target}", erased.erase_time, counts)


async def list_audit_records(
    tx: Transactions,
    resource: str | None,
    actor: str | None,
    start: datetime | None,
    end: datetime | None,
    page: Page,
) -> api.ListAuditRecordsResponse:
    async with tx.snapshot() as conn:
        rows = await privacy.audit_page(
            conn, resource=resource, actor=actor, start=start, end=end, before=page.position, limit=page.limit
        )
    response = api.ListAuditRecordsResponse(audit_records=[messages.audit_record(r) for r in rows[: page.size]])
    response.next_page_token = page.next_token(rows, lambda last: [last.occur_time.isoformat(), last.id])
    return response
