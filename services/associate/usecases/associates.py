"""Associates: read, list, create (headquarters, or a manager for her store) and update
(headquarters, her manager, or herself for her own profile). Departures are hand-overs
(usecases.handover)."""

from __future__ import annotations

from collections.abc import Mapping

from atelier.associate.v1 import associate_pb2
from atelier.associate.v1 import associate_service_pb2 as api
from servicekit import names
from servicekit.auth import Principal
from servicekit.paging import Page
from servicekit.uow import Idempotent, Transactions, UnitOfWork, check_etag

from ..domain import access, staff
from ..messages import directory, events
from ..storage import associates
from .reads import by_creation, found
from .writes import Change, create_once


async def get_associate(tx: Transactions, associate_id: str, name: str) -> associate_pb2.Associate:
    async with tx.read() as conn:
        return directory.associate(found(await associates.get(conn, associate_id), name))


async def list_associates(tx: Transactions, equal: Mapping[str, object], page: Page) -> api.ListAssociatesResponse:
    """`equal`: the column = value terms of the filter."""
    async with tx.read() as conn:
        rows = await associates.page(conn, equal, page.position, page.limit)
    items = [directory.associate(r) for r in page.items(rows)]
    return api.ListAssociatesResponse(associates=items, next_page_token=page.next_token(rows, by_creation))


async def create_associate(
    tx: Transactions,
    caller: Principal,
    request: api.CreateAssociateRequest,
    associate_id: str,
    values: Mapping[str, object],
) -> associate_pb2.Associate:
    access.check_create_associate(caller, f"stores/{values['store_id']}", values.get("role"))

    async def insert(uow: UnitOfWork) -> associate_pb2.Associate:
        row = await associates.insert(uow.conn, associate_id or names.new_id(), values, staff.new_referral_code)
        return directory.associate(row)

    idempotent = Idempotent("CreateAssociate", request, associate_pb2.Associate)
    return await create_once(tx, caller, idempotent, insert, events.associate_created)


async def update_associate(tx: Transactions, caller: Principal, change: Change) -> associate_pb2.Associate:
    async with tx.begin(caller) as uow:
        current = found(await associates.get(uow.conn, change.id, lock=True), change.name)
        access.check_update_associate(caller, change.id, current, change.paths, change.values, staff.SELF_SERVICE)
        staff.check_changeable(current, change.name)
        check_etag(change.expected, current.version)
        updated = directory.associate(await associates.update(uow.conn, change.id, change.values))
        uow.emit(events.associate_changed(updated, caller.subject, created=False))
    return updated
