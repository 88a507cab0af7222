"""Times on contract messages."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from google.protobuf.message import Message

from servicekit.wire import timestamp

M = TypeVar("M", bound=Message)


def stamped(msg: M, **times: datetime | None) -> M:
    """`msg` with each named Timestamp field set (left unset for None)."""
    for field, value in times.items():
        if value is not None:
            getattr(msg, field).CopyFrom(timestamp(value))
    return msg
