"""The kinds of entries of a customer's timeline (atelier.customer.v1.TimelineEntryKind,
same numbers). The timeline is ordered newest first by (time, kind, id)."""

from __future__ import annotations

from enum import IntEnum


class EntryKind(IntEnum):
    UNSPECIFIED = 0
    INTERACTION = 1
    PURCHASE = 2
    NOTE = 3
    CONSENT_CHANGE = 4


# The kinds a timeline holds (UNSPECIFIED is none of them).
ENTRY_KINDS = frozenset(int(k) for k in EntryKind if k)
