"""The caller gate: awaited by the runtime before every RPC of this service once the
caller's token verified (ServiceRuntime.set_caller_gate), it refuses a member of staff
who is no longer what her token says (domain.access.check_caller): departed, on leave,
moved to another store, or no longer a manager (audit item 7)."""

from __future__ import annotations

import time
from collections.abc import Callable

from servicekit.auth import Principal, Role
from servicekit.uow import Transactions

from ..domain import access
from ..storage import associates
from ..storage.associates import Standing


class CallerGate:
    """The gate, over a short cache: each associate's standing is read at most once per
    `ttl` seconds (at most 2), so a departure, a leave or a move takes effect within
    `ttl` of its commit on every replica, and a busy associate costs one indexed read per
    `ttl`, not one per call. An id without a record is cached as such for as long."""

    MAX_TTL = 2.0

    def __init__(
        self,
        tx: Transactions,
        *,
        ttl: float = 1.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not 0 <= ttl <= self.MAX_TTL:
            raise ValueError(f"the caller gate keeps a standing at most {self.MAX_TTL}s")
        self._tx = tx
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._cache: dict[str, tuple[float, Standing | None]] = {}

    async def __call__(self, caller: Principal) -> None:
        if not caller.associate_id or caller.role is Role.SERVICE:
            return
        access.check_caller(caller, await self.standing(caller.associate_id))

    async def standing(self, associate_id: str) -> Standing | None:
        now = self._clock()
        cached = self._cache.get(associate_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self._tx.read() as conn:
            found = await associates.standing(conn, associate_id)
        if len(self._cache) >= self._max_entries:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= self._max_entries:
                self._cache.clear()
        self._cache[associate_id] = (now + self._ttl, found)
        return found
