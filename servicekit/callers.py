"""The caller gate (ServiceRuntime.set_caller_gate): awaited before every RPC once the
caller's token verified, it refuses a member of staff who is no longer what her token
says, whatever service she calls (audit item 7).

Pure rule and mechanism; each service brings its own lookup of a member of staff's
`Standing` (the associate service from its tables, the others from their read model of
associate events):

    runtime.set_caller_gate(CallerGate(lookup))   # lookup: async (associate_id) -> Standing | None

The rule (`check_standing`) is one for every service: an active member of staff, of the
store her token names (associates and managers), holding at least the role her token
claims. A token without an associate id, an internal service's, or one whose associate id
the service has no record of passes (a read model may lag her creation by an event).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from servicekit.auth import Principal, Role
from servicekit.errors import PermissionDenied

# The status word of a member of staff who may act (events and the contract's
# AssociateStatus spell the others "on_leave", "departed").
ACTIVE = "active"

# Staff roles ranked: a token claims at most the role its holder has now.
_RANK = {Role.ASSOCIATE: 1, Role.MANAGER: 2, Role.HQ: 3}
_STORE_BOUND = (Role.ASSOCIATE, Role.MANAGER)


@dataclass(frozen=True)
class Standing:
    """What a service knows now of a member of staff: her store (`stores/{id}`, '' for
    none), the role she holds (None when it is not a staff role the platform knows) and
    her status word ("active", "on_leave", "departed")."""

    store: str
    role: Role | None
    status: str

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


def check_standing(caller: Principal, standing: Standing | None) -> None:
    """PERMISSION_DENIED for a caller whose token outlived what it says:
    CALLER_INACTIVE when she is not active (departed, on leave); CALLER_STORE_CHANGED
    when an associate's or a manager's store is no longer the token's;
    CALLER_ROLE_CHANGED when she no longer holds the role the token claims (a manager
    token of an associate, an HQ token of a manager; a lesser role's token still works).
    `standing` None (no record of her), a token without an associate id and the
    platform's own services pass."""
    if standing is None or caller.role is Role.SERVICE or not caller.associate_id:
        return
    if not standing.active:
        raise _refused(caller, "CALLER_INACTIVE", f"is not an active member of staff ({standing.status or 'unknown'})")
    if caller.role in _STORE_BOUND and caller.store != standing.store:
        raise _refused(caller, "CALLER_STORE_CHANGED", f"no longer works in {caller.store or 'the store of her token'}")
    held = 0 if standing.role is None else _RANK.get(standing.role, 0)
    if held < _RANK[caller.role]:
        raise _refused(caller, "CALLER_ROLE_CHANGED", f"is no longer {caller.role.value} staff")


def _refused(caller: Principal, reason: str, why: str) -> PermissionDenied:
    return PermissionDenied(
        f"{caller.subject} {why}", reason=reason, metadata={"associate": f"associates/{caller.associate_id}"}
    )


Lookup = Callable[[str], Awaitable[Standing | None]]


class CallerGate:
    """The gate over a short cache: each associate's standing is looked up at most once
    per `ttl` seconds (at most MAX_TTL), so a departure, a leave or a move takes effect
    within `ttl` of the service learning of it on every replica, and a busy associate
    costs one lookup per `ttl`, not one per call. An id without a record is cached as
    such for as long. At most `max_entries` standings are kept (expired ones are dropped
    first, then all)."""

    MAX_TTL = 2.0

    def __init__(
        self,
        lookup: Lookup,
        *,
        ttl: float = 1.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not 0 <= ttl <= self.MAX_TTL:
            raise ValueError(f"the caller gate keeps a standing at most {self.MAX_TTL}s")
        self._lookup = lookup
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._cache: dict[str, tuple[float, Standing | None]] = {}

    async def __call__(self, caller: Principal) -> None:
        if not caller.associate_id or caller.role is Role.SERVICE:
            return
        check_standing(caller, await self.standing(caller.associate_id))

    async def standing(self, associate_id: str) -> Standing | None:
        now = self._clock()
        cached = self._cache.get(associate_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await self._lookup(associate_id)
        if len(self._cache) >= self._max_entries:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= self._max_entries:
                self._cache.clear()
        self._cache[associate_id] = (now + self._ttl, found)
        return found
