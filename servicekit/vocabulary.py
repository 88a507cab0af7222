"""Contract enums more than one service speaks, as plain Python: the same names and numbers
as the protos (UNSPECIFIED included), so that domain code reads plain ints off the wire,
the tables and events without importing protobuf. Pure: no grpc, no protobuf.

Only vocabulary shared across services lives here (a service's own enums stay in its
domain/). tests/servicekit/test_vocabulary.py checks every member against its proto enum,
so a value added to one of these protos must be added here too.
"""

from __future__ import annotations

from enum import IntEnum


class Tier(IntEnum):
    """atelier.customer.v1.Tier: the customer's tier (the customer service sets it, the
    associate service's client book shows and filters it)."""

    UNSPECIFIED = 0
    PROSPECT = 1
    CLIENT = 2
    VIP = 3
    VVIP = 4


class ImportantDateKind(IntEnum):
    """atelier.customer.v1.ImportantDateKind: a date of hers (the associate service greets
    her on some of them)."""

    UNSPECIFIED = 0
    BIRTHDAY = 1
    ANNIVERSARY = 2
    OTHER = 3


class InteractionKind(IntEnum):
    """atelier.customer.v1.InteractionKind: a touchpoint of her timeline (the associate
    service derives reply tasks and attribution from them)."""

    UNSPECIFIED = 0
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
    """atelier.customer.v1.Direction: she wrote (inbound) or was written to (outbound)."""

    UNSPECIFIED = 0
    INBOUND = 1
    OUTBOUND = 2
