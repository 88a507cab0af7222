"""Stores: read, list, create (headquarters) and update (headquarters, or a store's
manager for its hours)."""

from __future__ import annotations

from collections.abc import Mapping

from atelier.associate.v1 import associate_service_pb2 as api
from atelier.associate.v1 import store_pb2
from servicekit import names
from servicekit.auth import Principal
from servicekit.paging import Page
from servicekit.uow import Idempotent, Transactions, UnitOfWork, check_etag

from ..domain import access
from ..messages import directory, events
from ..storage import stores
from .reads import by_creation, found
from .writes import Change, create_once


async def get_store(tx: Transactions, store_id: str, name: str) -> store_pb2.Store:
    async with tx.read() as conn:
        return directory.store(found(await stores.get(conn, store_id), name))


async def list_stores(tx: Transactions, region: str | None, page: Page) -> api.ListStoresResponse:
    async with tx.read() as conn:
        rows = await stores.page(conn, region, page.position, page.limit)
    items = [directory.store(r) for r in page.items(rows)]
    return api.ListStoresResponse(stores=items, next_page_token=page.next_token(rows, by_creation))


async def create_store(
    tx: Transactions, caller: Principal, request: api.CreateStoreRequest, store_id: str, values: Mapping[str, object]
) -> store_pb2.Store:
    access.check_manage_stores(caller)

    async def insert(uow: UnitOfWork) -> store_pb2.Store:
        return directory.store(await stores.insert(uow.conn, store_id or names.new_id(), values))

    idempotent = Idempotent("CreateStore", request, store_pb2.Store)
    return await create_once(tx, caller, idempotent, insert, events.store_created)


async def update_store(tx: Transactions, caller: Principal, change: Change) -> store_pb2.Store:
    access.check_update_store(caller, change.name, change.paths)
    async with tx.begin(caller) as uow:
        current = found(await stores.get(uow.conn, change.id, lock=True), change.name)
        check_etag(change.expected, current.version)
        updated = directory.store(await stores.update(uow.conn, change.id, change.values))
        uow.emit(events.store_changed(updated, caller.subject, created=False))
    return updated
