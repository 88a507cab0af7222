"""Bookings. Two active bookings of an associate cannot hold overlapping time: the table's
exclusion constraint `bookings_no_overlap` refuses the second (migration 0901), and
`insert` / `move` turn that refusal into the domain's SlotTaken. The time a booking holds
is computed by the database's `booking_span`, the same rule availability applies."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from servicekit.errors import NotFound

from ..domain.availability import Busy
from ..domain.bookings import ACTIVE, AssortmentItem, SlotTaken
from ..domain.wallclock import Span
from .rows import as_row, guarded

NO_OVERLAP = "bookings_no_overlap"
_ACTIVE = sorted(state.value for state in ACTIVE)


@dataclass(frozen=True)
class NewBooking:
    """A booking to insert (its buffers are the type's, in minutes, when booked)."""

    id: str
    customer_id: str
    associate_id: str
    store_id: str
    appointment_type_id: str
    start_time: datetime
    end_time: datetime
    buffer_before_minutes: int
    buffer_after_minutes: int
    time_zone: str
    channel: str
    host_choice: str
    notes: str


@dataclass(frozen=True)
class BookingRow(NewBooking):
    state: str
    assortment: list[dict[str, str]]
    cancel_reason: str
    attention_reason: str
    attention_detail: str
    attention_since: datetime | None
    sequence: int
    version: int
    create_time: datetime
    update_time: datetime
    check_in_time: datetime | None
    complete_time: datetime | None
    cancel_time: datetime | None

    @property
    def items(self) -> list[AssortmentItem]:
        return [AssortmentItem(**item) for item in self.assortment]


_COLUMNS = ", ".join(BookingRow.__dataclass_fields__)

_NEW = list(NewBooking.__dataclass_fields__)
_INSERT = sa.text(
    f"INSERT INTO bookings ({', '.join(_NEW)}) VALUES ({', '.join(':' + c for c in _NEW)}) RETURNING {_COLUMNS}"
)
_GET = sa.text(f"SELECT {_COLUMNS} FROM bookings WHERE id = :id")
_GET_LOCKED = sa.text(f"SELECT {_COLUMNS} FROM bookings WHERE id = :id FOR UPDATE")
_HELD = sa.text(
    """
    SELECT id, associate_id, lower(held) AS held_from, upper(held) AS held_until
      FROM (SELECT id, associate_id,
                   booking_span(start_time, end_time, buffer_before_minutes, buffer_after_minutes) AS held
              FROM bookings
             WHERE associate_id = ANY(:associates) AND state = ANY(:active)) AS b
     WHERE held && tstzrange(:start, :end, '[)')
     ORDER BY associate_id, held_from
    """
)
_MOVE = sa.text(
    f"""
    UPDATE bookings
       SET associate_id = :associate_id, start_time = :start_time, end_time = :end_time,
           host_choice = :host_choice, sequence = :sequence, channel = :channel,
           version = version + 1, update_time = now()
     WHERE id = :id
    RETURNING {_COLUMNS}
    """
)
_STATE = sa.text(
    f"""
    UPDATE bookings
       SET state = :state, sequence = :sequence, cancel_reason = :cancel_reason,
           check_in_time = COALESCE(:check_in_time, check_in_time),
           complete_time = COALESCE(:complete_time, complete_time),
           cancel_time = COALESCE(:cancel_time, cancel_time),
           version = version + 1, update_time = now()
     WHERE id = :id
    RETURNING {_COLUMNS}
    """
)
_ASSORTMENT = sa.text(
    f"""
    UPDATE bookings SET assortment = CAST(:assortment AS jsonb), version = version + 1, update_time = now()
     WHERE id = :id
    RETURNING {_COLUMNS}
    """
)
_ATTENTION = sa.text(
    f"""
    UPDATE bookings SET attention_reason = :reason, attention_detail = :detail,
           attention_since = CASE WHEN :reason = '' THEN NULL ELSE COALESCE(attention_since, :since) END,
           version = version + 1, update_time = now()
     WHERE id = :id
    RETURNING {_COLUMNS}
    """
)


async def insert(conn: AsyncConnection, booking: NewBooking) -> BookingRow:
    """The booking, booked; SlotTaken when another active booking of the associate holds
    part of its time (buffers included)."""
    taken = {NO_OVERLAP: lambda: SlotTaken(booking.associate_id, booking.start_time)}
    row = await guarded(conn, _INSERT, asdict(booking), taken)
    assert row is not None  # INSERT … RETURNING returns its row
    return as_row(BookingRow, row)


async def get(conn: AsyncConnection, booking_id: str, *, lock: bool = False) -> BookingRow | None:
    """The booking (locked for the transaction with `lock`), None when there is none."""
    row = (await conn.execute(_GET_LOCKED if lock else _GET, {"id": booking_id})).first()
    return as_row(BookingRow, row) if row else None


async def held(conn: AsyncConnection, associate_ids: Sequence[str], start: datetime, end: datetime) -> list[Busy]:
    """The time the active bookings of these associates hold within [start, end), as
    availability takes it (one statement for every associate)."""
    rows = await conn.execute(_HELD, {"associates": list(associate_ids), "active": _ACTIVE, "start": start, "end": end})
    return [Busy(r.associate_id, Span(r.held_from, r.held_until), r.id) for r in rows]


async def move(
    conn: AsyncConnection,
    booking_id: str,
    *,
    associate_id: str,
    start_time: datetime,
    end_time: datetime,
    host_choice: str,
    sequence: int,
    channel: str,
) -> BookingRow:
    """The booking at another time and/or with another host (its buffers as booked);
    SlotTaken when that time is held by another active booking of the associate."""
    params = {
        "id": booking_id,
        "associate_id": associate_id,
        "start_time": start_time,
        "end_time": end_time,
        "host_choice": host_choice,
        "sequence": sequence,
        "channel": channel,
    }
    row = await guarded(conn, _MOVE, params, {NO_OVERLAP: lambda: SlotTaken(associate_id, start_time)})
    if row is None:
        raise NotFound(f"bookings/{booking_id}")
    return as_row(BookingRow, row)


async def set_state(
    conn: AsyncConnection,
    booking_id: str,
    state: str,
    *,
    sequence: int,
    cancel_reason: str = "",
    check_in_time: datetime | None = None,
    complete_time: datetime | None = None,
    cancel_time: datetime | None = None,
) -> BookingRow:
    """The booking in `state` (with the times given; the others kept)."""
    params = {
        "id": booking_id,
        "state": state,
        "sequence": sequence,
        "cancel_reason": cancel_reason,
        "check_in_time": check_in_time,
        "complete_time": complete_time,
        "cancel_time": cancel_time,
    }
    return as_row(BookingRow, (await conn.execute(_STATE, params)).one())


async def set_assortment(conn: AsyncConnection, booking_id: str, items: Sequence[AssortmentItem]) -> BookingRow:
    document = json.dumps([asdict(item) for item in items])
    return as_row(BookingRow, (await conn.execute(_ASSORTMENT, {"id": booking_id, "assortment": document})).one())


async def set_attention(
    conn: AsyncConnection, booking_id: str, reason: str, detail: str, since: datetime
) -> BookingRow:
    """Marks (reason non-empty) or clears (reason '') what a manager must act on; the
    first marking time is kept while it stays marked."""
    params = {"id": booking_id, "reason": reason, "detail": detail, "since": since}
    return as_row(BookingRow, (await conn.execute(_ATTENTION, params)).one())
