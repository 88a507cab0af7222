"""Interactions as the associate service sees them: the log that reply tasks, the
attribution window and reply times are computed from, and which touchpoints count as
contact with the customer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum


class Kind(IntEnum):
    """The customer contract's InteractionKind numbers (also stored in the log)."""

    MESSAGE = 1
    STORE_VISIT = 2
    QR_SCAN = 3
    WEB_VISIT = 4
    MENU_CLICK = 5
    CAMPAIGN_DELIVERED = 6
    CAMPAIGN_OPENED = 7
    CAMPAIGN_CLICKED = 8
    CALL = 9
    APPOINTMENT = 10


class Direction(IntEnum):
    """The customer contract's Direction numbers: she wrote (inbound) or was written to."""

    UNSPECIFIED = 0
    INBOUND = 1
    OUTBOUND = 2


# Touchpoints where the associate and the customer were actually in contact.
CONTACTS = frozenset({Kind.MESSAGE, Kind.STORE_VISIT, Kind.QR_SCAN, Kind.CALL, Kind.APPOINTMENT})


@dataclass(frozen=True)
class Interaction:
    """One interaction of a customer. `store` and `associate` are resource names or ''."""

    name: str
    customer_id: str
    kind: int
    direction: int
    channel: int
    store: str
    associate: str
    occur_time: datetime

    @property
    def inbound_message(self) -> bool:
        return self.kind == Kind.MESSAGE and self.direction == Direction.INBOUND

    @property
    def outbound_message(self) -> bool:
        return self.kind == Kind.MESSAGE and self.direction == Direction.OUTBOUND
