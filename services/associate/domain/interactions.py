"""Interactions as the associate service sees them: the log that reply tasks, the
attribution window and reply times are computed from, and which touchpoints count as
contact with the customer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from servicekit.vocabulary import Direction, InteractionKind

# Touchpoints where the associate and the customer were actually in contact.
CONTACTS = frozenset(
    {
        InteractionKind.MESSAGE,
        InteractionKind.STORE_VISIT,
        InteractionKind.QR_SCAN,
        InteractionKind.CALL,
        InteractionKind.APPOINTMENT,
    }
)


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
        return self.kind == InteractionKind.MESSAGE and self.direction == Direction.INBOUND

    @property
    def outbound_message(self) -> bool:
        return self.kind == InteractionKind.MESSAGE and self.direction == Direction.OUTBOUND
