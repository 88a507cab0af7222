"""Associates' notes about a customer."""

from __future__ import annotations

from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from servicekit import names
from servicekit.audit import AuditWriter
from servicekit.auth import Principal
from servicekit.paging import Page
from servicekit.uow import Idempotent, Transactions, UnitOfWork

from ..domain import access
from ..messages import customers as messages
from ..storage import notes
from .audit_trail import ReadAudit
from .reach import reached, read_of


async def create_note(
    tx: Transactions, caller: Principal, customer_id: str, parent: str, text: str, request: api.CreateNoteRequest
) -> customer_pb2.Note:
    async def create(uow: UnitOfWork) -> customer_pb2.Note:
        await reached(uow.conn, caller, customer_id, parent, access.check_write)
        row = await notes.insert(uow.conn, names.new_id(), customer_id, text, caller.subject)
        return messages.note(parent, row)

    return await tx.run(caller, create, idempotent=Idempotent("CreateNote", request, customer_pb2.Note))


async def list_notes(
    tx: Transactions, audit: AuditWriter, caller: Principal, customer_id: str, parent: str, page: Page, read: ReadAudit
) -> api.ListNotesResponse:
    """Associates' notes about her (a read of personal data: audited)."""
    rows = await read_of(
        tx, caller, customer_id, parent, lambda conn: notes.page(conn, customer_id, page.position, page.limit)
    )
    audit.record(read.record(caller, f"customers/{customer_id}"))
    response = api.ListNotesResponse(notes=[messages.note(parent, r) for r in rows[: page.size]])
    response.next_page_token = page.next_token(rows, lambda last: [last.create_time.isoformat(), last.id])
    return response
