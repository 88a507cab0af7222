"""The directory of stores and staff (domain/directory.py): keeping it from the associate
service's events (the `directory` consumer), reconciling it with the associate service's
own answers (the directory sync job, jobs/directory_sync.py), the lookup of the caller
gate every RPC passes (domain/access.standing, judged by servicekit.callers) and the
check that the stores and referral codes a request names exist.

A client that has just created a store or an associate through the associate service
and names it here at once (the demo loader, a back office) races the event that tells
this service of it, which takes well under a second to arrive. So a name not known yet
is waited for, polling the directory outside any transaction, for up to
`REFERENCE_WAIT` seconds before the request is refused: only a name that is really
unknown pays the wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from weakref import WeakKeyDictionary

from servicekit.auth import SYSTEM
from servicekit.callers import Lookup, Standing
from servicekit.errors import Violations
from servicekit.uow import Transactions, UnitOfWork

from ..domain import access, directory
from ..domain.directory import Known, StaffRecord
from ..storage import directory as store

# -- the consumer's use cases ------------------------------------------------------


async def apply_staff(uow: UnitOfWork, incoming: StaffRecord) -> None:
    """associate_created / associate_updated."""
    current = await store.staff(uow.conn, incoming.associate_id, lock=True)
    kept = directory.changed(current, incoming)
    if kept is not None:
        await store.put_staff(uow.conn, kept)


async def apply_departure(uow: UnitOfWork, associate_id: str, store_name: str, change_time: datetime) -> None:
    """associate_departed."""
    current = await store.staff(uow.conn, associate_id, lock=True)
    await store.put_staff(uow.conn, directory.departed(current, associate_id, store_name, change_time))


async def apply_store(uow: UnitOfWork, store_name: str, change_time: datetime) -> None:
    """store_created / store_updated."""
    if directory.store_changed(await store.store_time(uow.conn, store_name), change_time):
        await store.put_store(uow.conn, store_name, change_time)


# -- the directory sync job's use cases ---------------------------------------------
#
# Events reach this service only while the stream keeps them (servicekit.events
# MAX_AGE_SECONDS): an installation upgrading to a version with the directory, a database
# restored from a backup or a consumer created after the window never hears of stores and
# staff that have not changed since. The sync job reads the associate service's own list
# of them and applies each entry as the events of the change it shows would have been,
# dated by its update_time, so the consumer's rules hold for both paths.
#
# Dates: an entry's update_time is when the associate service's transaction that made
# the change began (its database clock); the events of that change are stamped later in
# the same transaction (its process clock). So an entry never looks newer than the event
# of the same change (they agree anyway), and an entry read before a later change looks
# older than that change's event and loses to it, as long as the two clocks agree to
# within the time between two changes of one associate (NTP-synchronised hosts).


async def reconcile_staff(tx: Transactions, entries: Iterable[StaffRecord]) -> int:
    """One page of the associate service's staff merged into the directory (one read, one
    write); how many records were written. A record an event changes between the read
    and the write stays as the event made it (the next round looks again)."""
    by_id = {entry.associate_id: entry for entry in entries}
    if not by_id:
        return 0
    async with tx.begin(SYSTEM) as uow:
        held = await store.staff_of(uow.conn, by_id.keys())
        writes = [
            (held.get(associate_id), kept)
            for associate_id, entry in by_id.items()
            if (kept := directory.reconciled_staff(held.get(associate_id), entry)) is not None
        ]
        return await store.put_staff_unless_changed(uow.conn, writes)


async def reconcile_stores(tx: Transactions, entries: Mapping[str, datetime]) -> int:
    """One page of the associate service's stores (name → update_time) merged into the
    directory (one read, one write); how many were written."""
    if not entries:
        return 0
    async with tx.begin(SYSTEM) as uow:
        held = await store.store_times(uow.conn, entries.keys())
        writes = {
            name: (held.get(name), when)
            for name, when in entries.items()
            if directory.reconciled_store(held.get(name), when)
        }
        return await store.put_stores_unless_changed(uow.conn, writes)


# -- what requests name ----------------------------------------------------------------

# How long a store or referral code not known yet is waited for (seconds), and how often
# the directory is read meanwhile.
REFERENCE_WAIT = 2.0
_POLL = 0.1


@dataclass
class _Seen:
    """Stores and referral codes this process already found in the directory. Neither is
    ever removed from it, so a name found once needs no read again."""

    stores: set[str] = field(default_factory=set)
    referral_codes: set[str] = field(default_factory=set)

    def remember(self, found: Known) -> None:
        if len(self.stores) + len(self.referral_codes) > _MAX_SEEN:
            self.stores.clear()
            self.referral_codes.clear()
        self.stores |= found.stores
        self.referral_codes |= found.referral_codes


_MAX_SEEN = 100_000
# One memo per database (a process may run several services in tests).
_seen: WeakKeyDictionary[Transactions, _Seen] = WeakKeyDictionary()


async def known(
    tx: Transactions, stores: Collection[str], referral_codes: Collection[str] = (), *, wait: float = REFERENCE_WAIT
) -> Known:
    """Which of the named stores and referral codes (empty ones ignored) exist, once all
    of them do or `wait` seconds have passed."""
    seen = _seen.setdefault(tx, _Seen())
    named_stores = {s for s in stores if s}
    named_codes = {directory.referral_key(c) for c in referral_codes if c}
    wanted_stores, wanted_codes = named_stores - seen.stores, named_codes - seen.referral_codes
    deadline = time.monotonic() + wait
    while wanted_stores or wanted_codes:
        async with tx.snapshot() as conn:
            found = Known(
                stores=await store.known_stores(conn, wanted_stores),
                referral_codes=await store.known_referral_codes(conn, wanted_codes),
            )
        seen.remember(found)
        wanted_stores -= found.stores
        wanted_codes -= found.referral_codes
        if time.monotonic() >= deadline:
            break
        if wanted_stores or wanted_codes:
            await asyncio.sleep(_POLL)
    return Known(stores=frozenset(named_stores - wanted_stores), referral_codes=frozenset(named_codes - wanted_codes))


async def check_references(
    tx: Transactions, *, stores: Mapping[str, str] | None = None, referral_codes: Mapping[str, str] | None = None
) -> None:
    """INVALID_ARGUMENT naming every field (the keys) whose store or referral code (the
    values; empty ones are not checked) the directory does not know (after the wait)."""
    stores, referral_codes = stores or {}, referral_codes or {}
    found = await known(tx, stores.values(), referral_codes.values())
    violations = Violations()
    for path, name in stores.items():
        directory.check_home_store(name, found, path, violations)
    for path, code in referral_codes.items():
        directory.check_referral_code(code, found, path, violations)
    violations.raise_if_any()


# -- the caller gate --------------------------------------------------------------------


def standings(tx: Transactions) -> Lookup:
    """The caller gate's lookup (servicekit.callers.CallerGate, wired in app.py): the
    standing of an associate id as the directory knows it (None: not known yet)."""

    async def standing(associate_id: str) -> Standing | None:
        async with tx.read() as conn:
            return access.standing(await store.staff(conn, associate_id))

    return standing
