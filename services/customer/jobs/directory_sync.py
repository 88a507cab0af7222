"""The directory sync: the directory of stores and staff (usecases/directory.py) reconciled
with the associate service's own answers, AssociateService.ListStores and ListAssociates
read page by page as the platform (a SYSTEM principal token), each page merged in one
read and one write.

Why: the directory is a read model of the associate service's events, and the stream
keeps events for MAX_AGE_SECONDS (servicekit.events). An installation upgrading to this
version, a database restored from a backup or a consumer created after that window would
otherwise never learn of stores and staff that have not changed since: creates in those
stores would be refused and departed associates let through. Events stay the fast path;
this job is the floor under them.

app.py runs it once as soon as the service starts (retrying until one round has gone
through: the associate service may be starting too) and then every `EVERY_SECONDS`, one
replica at a time (runtime.add_periodic). Without ATELIER_ASSOCIATE_ADDRESS it is not
wired at all (app.py says so once at start). A round the associate service does not
answer is logged and left to the next; nothing it wrote is undone.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
from google.protobuf import timestamp_pb2

from atelier.associate.v1 import associate_pb2, associate_service_pb2_grpc, store_pb2
from atelier.associate.v1 import associate_service_pb2 as associate_api
from servicekit import paging, telemetry
from servicekit.auth import PRINCIPAL_METADATA_KEY, SYSTEM, mint_internal_token
from servicekit.uow import Transactions

from ..domain.directory import StaffRecord, referral_key
from ..usecases import directory
from ..usecases.associate_export import AssociateExports

log = telemetry.logger("atelier.customer.directory_sync")

# The name of the periodic job (its advisory lock) and how often it runs: events keep
# the directory current within a second; this only catches what they never delivered.
NAME = "customer-directory-sync"
EVERY_SECONDS = 600.0
# The longest one call to the associate service may take, and the page asked for.
DEADLINE_SECONDS = 10.0
PAGE_SIZE = paging.MAX_PAGE_SIZE
# Waits between attempts of the first round (doubling up to the last one).
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0

# The words the associate service's events carry for its contract's enums (the member's
# name in lower case); a value it does not know is "" as in its events.
_ROLE_WORDS = {
    associate_pb2.STAFF_ROLE_ASSOCIATE: "associate",
    associate_pb2.STAFF_ROLE_MANAGER: "manager",
    associate_pb2.STAFF_ROLE_HQ: "hq",
}
_STATUS_WORDS = {
    associate_pb2.ASSOCIATE_STATUS_ACTIVE: "active",
    associate_pb2.ASSOCIATE_STATUS_ON_LEAVE: "on_leave",
    associate_pb2.ASSOCIATE_STATUS_DEPARTED: "departed",
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Synced:
    """What one round read from the associate service and wrote to the directory."""

    stores_read: int = 0
    stores_written: int = 0
    staff_read: int = 0
    staff_written: int = 0


def _dated(update_time: timestamp_pb2.Timestamp, create_time: timestamp_pb2.Timestamp) -> datetime:
    """When the entry last changed; one without a date is older than any event (it only
    fills a gap in the directory)."""
    for ts in (update_time, create_time):
        if ts.seconds or ts.nanos:
            return ts.ToDatetime(tzinfo=UTC)
    return _EPOCH


def _named(name: str, collection: str) -> bool:
    prefix = collection + "/"
    return name.startswith(prefix) and len(name) > len(prefix)


def store_entry(store: store_pb2.Store) -> tuple[str, datetime] | None:
    """A store of ListStores as the directory keeps it (its name and when it last
    changed), None for an entry naming no store."""
    if not _named(store.name, "stores"):
        return None
    return store.name, _dated(store.update_time, store.create_time)


def staff_entry(associate: associate_pb2.Associate) -> StaffRecord | None:
    """An associate of ListAssociates as the directory keeps her (as her events would),
    None for an entry naming no associate."""
    if not _named(associate.name, "associates"):
        return None
    return StaffRecord(
        associate_id=associate.name.split("/", 1)[1],
        store=associate.store,
        role=_ROLE_WORDS.get(associate.role, ""),
        status=_STATUS_WORDS.get(associate.status, ""),
        referral_code=referral_key(associate.referral_code),
        change_time=_dated(associate.update_time, associate.create_time),
    )


class DirectorySync:
    """The job over one service's directory and its client of the associate service."""

    def __init__(self, tx: Transactions, associates: AssociateExports, internal_secret: str):
        self._tx = tx
        self._associates = associates
        self._secret = internal_secret
        # Rounds of one process never overlap (the first round and a periodic one).
        self._running = asyncio.Lock()
        self._synced_once = False
        self._first: asyncio.Task[None] | None = None

    def _stub(self) -> associate_service_pb2_grpc.AssociateServiceAsyncStub:
        # The one channel to the associate service the process has (exports use it too).
        return self._associates.client()

    def _metadata(self, round_id: str) -> tuple[tuple[str, str], ...]:
        # Minted per call: a long round must not outlive its token.
        token = mint_internal_token(SYSTEM, self._secret)
        return ((PRINCIPAL_METADATA_KEY, token), ("x-request-id", round_id))

    async def run(self) -> Synced:
        """One round: every store, then every member of staff (departed ones included).
        Raises grpc.aio.AioRpcError when the associate service does not answer a page."""
        async with self._running:
            round_id = f"directory-sync-{uuid.uuid4()}"
            stores_read, stores_written = await self._stores(round_id)
            staff_read, staff_written = await self._staff(round_id)
            self._synced_once = True
        synced = Synced(stores_read, stores_written, staff_read, staff_written)
        if stores_written or staff_written:
            log.info(
                "directory sync: %d of %d stores and %d of %d members of staff were new or changed",
                stores_written,
                stores_read,
                staff_written,
                staff_read,
            )
        return synced

    async def _stores(self, round_id: str) -> tuple[int, int]:
        read = written = 0
        token = ""
        while True:
            request = associate_api.ListStoresRequest(page_size=PAGE_SIZE, page_token=token)
            reply = await self._stub().ListStores(request, metadata=self._metadata(round_id), timeout=DEADLINE_SECONDS)
            entries = dict(entry for entry in map(store_entry, reply.stores) if entry is not None)
            read += len(reply.stores)
            written += await directory.reconcile_stores(self._tx, entries)
            token = reply.next_page_token
            if not token:
                return read, written

    async def _staff(self, round_id: str) -> tuple[int, int]:
        read = written = 0
        token = ""
        while True:
            request = associate_api.ListAssociatesRequest(page_size=PAGE_SIZE, page_token=token)
            reply = await self._stub().ListAssociates(
                request, metadata=self._metadata(round_id), timeout=DEADLINE_SECONDS
            )
            entries = [entry for entry in map(staff_entry, reply.associates) if entry is not None]
            read += len(reply.associates)
            written += await directory.reconcile_staff(self._tx, entries)
            token = reply.next_page_token
            if not token:
                return read, written

    async def round(self) -> None:
        """The periodic round (runtime.add_periodic): an associate service that does not
        answer is a warning, the next round tries again."""
        try:
            await self.run()
        except grpc.aio.AioRpcError as exc:
            _unanswered(exc, f"next round in {EVERY_SECONDS:.0f}s")

    def start(self) -> None:
        """Runs the first round now, in the background, retrying until a round has gone
        through (call it inside the running loop, once the database is migrated)."""
        self._first = asyncio.get_running_loop().create_task(self._first_round(), name=NAME)
        self._first.add_done_callback(_report_end)

    async def _first_round(self) -> None:
        wait = FIRST_RETRY_SECONDS
        while not self._synced_once:
            try:
                await self.run()
            except grpc.aio.AioRpcError as exc:
                _unanswered(exc, f"retrying in {wait:.0f}s")
                await asyncio.sleep(wait)
                wait = min(wait * 2, MAX_RETRY_SECONDS)

    async def close(self) -> None:
        """Stops the first round if it is still retrying (at shutdown)."""
        if self._first is not None and not self._first.done():
            self._first.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._first


def _unanswered(exc: grpc.aio.AioRpcError, then: str) -> None:
    log.warning(
        "directory sync: the associate service did not answer (%s); the directory is kept from events only, %s",
        exc.code().name,
        then,
    )


def _report_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("directory sync: the first round failed (%r); the periodic rounds carry on", exc)
