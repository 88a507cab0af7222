"""The directory of stores and staff as the customer service knows it: a read model of the
associate service's store and associate events, never of its tables. Pure rules: what an
event changes in it, and whether the stores and referral codes a request names exist.

Events apply in the order they happened (the envelope's `occurred_at`), whatever order
they arrive in: an older event arriving after a newer one changes nothing. A departure is
final (the associate service refuses to change a departed associate), so nothing that
arrives after it makes her active again.

The read model lags the associate service by the time an event takes to arrive (well
under a second when the bus is up): a store or an associate created a moment ago may not
be known yet. Requests naming one are refused as unknown until it is; the message says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from servicekit.errors import Violations

# The statuses AssociateChanged events carry ("active", "on_leave", "departed").
ACTIVE = "active"
DEPARTED = "departed"


@dataclass(frozen=True)
class StaffRecord:
    """A member of staff as the last applied event described her. `store` is a store name
    (`stores/{id}`), `role` and `status` the words events carry, `referral_code` normalised."""

    associate_id: str
    store: str
    role: str
    status: str
    referral_code: str
    change_time: datetime

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


def referral_key(code: str) -> str:
    """A referral code as the associate service compares it: upper case, without - or spaces."""
    return code.strip().upper().replace("-", "").replace(" ", "")


def changed(current: StaffRecord | None, incoming: StaffRecord) -> StaffRecord | None:
    """The record to keep after an associate_created / associate_updated event, or None
    when the event changes nothing (it is older than what is known, or she has departed)."""
    if current is None:
        return incoming
    if incoming.change_time < current.change_time:
        return None
    if current.status == DEPARTED and incoming.status != DEPARTED:
        return None
    return incoming


def departed(current: StaffRecord | None, associate_id: str, store: str, change_time: datetime) -> StaffRecord:
    """The record after an associate_departed event: departed from then on, whatever
    arrives later (her store and code stay as last known)."""
    if current is None:
        return StaffRecord(associate_id, store, "", DEPARTED, "", change_time)
    return replace(
        current, store=current.store or store, status=DEPARTED, change_time=max(current.change_time, change_time)
    )


def store_changed(current: datetime | None, incoming: datetime) -> bool:
    """Whether a store_created / store_updated event that happened at `incoming` is newer
    than what is known of the store (it exists either way)."""
    return current is None or incoming >= current


@dataclass(frozen=True)
class Known:
    """Of the stores and referral codes (normalised) a request names, those the directory knows."""

    stores: frozenset[str] = frozenset()
    referral_codes: frozenset[str] = frozenset()


_LAG = "(one created a moment ago may take a few seconds to be known here)"


def check_home_store(home_store: str, known: Known, field: str, violations: Violations) -> None:
    """A customer's home store is a store of the maison; none (the headquarters pool) is fine."""
    if home_store and home_store not in known.stores:
        violations.add(field, f"no store {home_store} is known {_LAG}")


def check_referral_code(referral_code: str, known: Known, field: str, violations: Violations) -> None:
    """The referral code a customer came with is on the card of a member of staff."""
    if referral_code and referral_key(referral_code) not in known.referral_codes:
        violations.add(field, f"no associate has this referral code {_LAG}")


def reconciled_staff(current: StaffRecord | None, entry: StaffRecord) -> StaffRecord | None:
    """The record to keep when the associate service's answer for a member of staff
    (`entry`, dated by her update_time) meets what the directory holds (`current`), or
    None when nothing is to be written. The entry applies as the events of its change
    would: a departed one as associate_departed then associate_updated (the pair
    DepartAssociate emits), any other as associate_updated. So an entry older than what is
    known changes nothing, a departure is final (an entry saying active never revives a
    departed associate; a departed one is applied whatever its date), and an entry the
    directory already shows writes nothing."""
    merged = current
    if entry.status == DEPARTED:
        merged = departed(current, entry.associate_id, entry.store, entry.change_time)
    kept = changed(merged, entry) or merged
    return None if kept == current else kept


def reconciled_store(current: datetime | None, entry: datetime) -> bool:
    """Whether the associate service's answer for a store (dated by its update_time) is
    to be written: the store is unknown, or the answer is newer than its last event."""
    return store_changed(current, entry) and current != entry
