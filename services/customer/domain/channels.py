"""The channels a customer is reached on (atelier.common.v1.Channel, same numbers)."""

from __future__ import annotations

from enum import IntEnum


class Channel(IntEnum):
    UNSPECIFIED = 0
    EMAIL = 1
    SMS = 2
    WHATSAPP = 3
    WECHAT = 4
    LINE = 5
    PHONE = 6
    POST = 7


# Every value this API defines, UNSPECIFIED included (callers decide whether one is required).
CHANNELS = frozenset(int(c) for c in Channel)
