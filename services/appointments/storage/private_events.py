"""Private events and their invitations.

The places an event's invitations hold are counted by the database itself (the
`invitations_places` trigger keeps `events.places_taken`) and bounded by it
(`events_within_capacity`): a write that would overfill an event fails, and `answer` /
`promote` turn that into the domain's EventFull. Answers to one event are decided one
after the other: the use case takes `lock` (the event row, FOR UPDATE) before reading the
invitation and the waitlist, so the places it sees are still free when it writes.

An invitation's turn on the waitlist is the time it joined (`waitlist_time`): kept while
it stays waitlisted, cleared when it leaves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from servicekit.errors import NotFound

from ..domain.private_events import EventFull, Places, Waiting
from .rows import as_row, guarded

WITHIN_CAPACITY = "events_within_capacity"


@dataclass(frozen=True)
class NewEvent:
    id: str
    title: str
    kind: str
    description: str
    store_id: str
    venue: str
    start_time: datetime
    end_time: datetime
    time_zone: str
    capacity: int
    plus_ones_allowed: int
    hosts: Sequence[str]


@dataclass(frozen=True)
class EventRow(NewEvent):
    # Kept by the database from the invitations.
    places_taken: int
    version: int
    create_time: datetime
    update_time: datetime

    @property
    def places(self) -> Places:
        return Places(self.capacity, self.places_taken)


@dataclass(frozen=True)
class NewInvitation:
    id: str
    customer_id: str
    associate_id: str
    plus_ones_allowed: int


@dataclass(frozen=True)
class InvitationRow:
    id: str
    event_id: str
    customer_id: str
    associate_id: str
    state: str
    plus_ones_allowed: int
    plus_ones: int
    waitlist_time: datetime | None
    response_channel: str
    arrived_guests: int
    version: int
    invite_time: datetime
    response_time: datetime | None
    check_in_time: datetime | None
    # 1 for the first in line while waitlisted, else 0.
    waitlist_position: int


_EVENT_COLUMNS = ", ".join(EventRow.__dataclass_fields__)
_INVITATION_FIELDS = [f for f in InvitationRow.__dataclass_fields__ if f != "waitlist_position"]
# Her place in line: how many waitlisted invitations of the event are at or before her turn.
_POSITION = """
    CASE WHEN i.state = 'waitlisted' THEN (
        SELECT count(*) FROM invitations w
         WHERE w.event_id = i.event_id AND w.state = 'waitlisted'
           AND (w.waitlist_time, w.id) <= (i.waitlist_time, i.id)
    ) ELSE 0 END AS waitlist_position
"""
_SELECT_INVITATIONS = f"SELECT {', '.join('i.' + c for c in _INVITATION_FIELDS)}, {_POSITION} FROM invitations i"

_NEW_EVENT = list(NewEvent.__dataclass_fields__)
_INSERT_EVENT = sa.text(
    f"INSERT INTO events ({', '.join(_NEW_EVENT)}) VALUES ({', '.join(':' + c for c in _NEW_EVENT)}) "
    f"RETURNING {_EVENT_COLUMNS}"
)
_LOCK_EVENT = sa.text(f"SELECT {_EVENT_COLUMNS} FROM events WHERE id = :id FOR UPDATE")
_GET_EVENT = sa.text(f"SELECT {_EVENT_COLUMNS} FROM events WHERE id = :id")
_INVITE = sa.text(
    """
    INSERT INTO invitations (id, event_id, customer_id, associate_id, plus_ones_allowed)
    SELECT id, :event_id, customer_id, associate_id, plus_ones_allowed
      FROM unnest(CAST(:ids AS text[]), CAST(:customers AS text[]), CAST(:associates AS text[]),
                  CAST(:allowed AS integer[])) AS n(id, customer_id, associate_id, plus_ones_allowed)
    ON CONFLICT (event_id, customer_id) DO NOTHING
    """
)
_OF_CUSTOMERS = sa.text(f"{_SELECT_INVITATIONS} WHERE i.event_id = :event_id AND i.customer_id = ANY(:customers)")
_GET_INVITATION = sa.text(f"{_SELECT_INVITATIONS} WHERE i.event_id = :event_id AND i.id = :id")
_SOME_INVITATIONS = sa.text(f"{_SELECT_INVITATIONS} WHERE i.event_id = :event_id AND i.id = ANY(:ids)")
_LOCK_INVITATION = sa.text("SELECT id FROM invitations WHERE event_id = :event_id AND id = :id FOR UPDATE")
_WAITLIST = sa.text(
    """
    SELECT id, plus_ones FROM invitations
     WHERE event_id = :event_id AND state = 'waitlisted'
     ORDER BY waitlist_time, id
    """
)
_ANSWER = sa.text(
    """
    UPDATE invitations
       SET state = :state, plus_ones = :plus_ones, response_channel = :channel, response_time = :at,
           waitlist_time = CASE WHEN :state = 'waitlisted' THEN COALESCE(waitlist_time, :at) END,
           version = version + 1
     WHERE event_id = :event_id AND id = :id
    RETURNING id
    """
)
_PROMOTE = sa.text(
    """
    UPDATE invitations SET state = 'accepted', waitlist_time = NULL, version = version + 1
     WHERE event_id = :event_id AND id = ANY(:ids) AND state = 'waitlisted'
    RETURNING id
    """
)
_CHECK_IN = sa.text(
    """
    UPDATE invitations SET state = 'checked_in', arrived_guests = :arrived, check_in_time = :at,
           version = version + 1
     WHERE event_id = :event_id AND id = :id
    RETURNING id
    """
)


async def insert_event(conn: AsyncConnection, event: NewEvent) -> EventRow:
    params = {**asdict(event), "hosts": list(event.hosts)}
    return as_row(EventRow, (await conn.execute(_INSERT_EVENT, params)).one())


async def get_event(conn: AsyncConnection, event_id: str) -> EventRow | None:
    row = (await conn.execute(_GET_EVENT, {"id": event_id})).first()
    return as_row(EventRow, row) if row else None


async def lock(conn: AsyncConnection, event_id: str) -> EventRow | None:
    """The event, its row locked until the transaction ends: every answer to it waits
    for the one before (take it before reading invitations or the waitlist)."""
    row = (await conn.execute(_LOCK_EVENT, {"id": event_id})).first()
    return as_row(EventRow, row) if row else None


async def invite(conn: AsyncConnection, event_id: str, invitations: Sequence[NewInvitation]) -> list[InvitationRow]:
    """Invitations for these customers; a customer already invited keeps hers. Returned
    in the order given (one statement to insert, one to read)."""
    await conn.execute(
        _INVITE,
        {
            "event_id": event_id,
            "ids": [i.id for i in invitations],
            "customers": [i.customer_id for i in invitations],
            "associates": [i.associate_id for i in invitations],
            "allowed": [i.plus_ones_allowed for i in invitations],
        },
    )
    customers = [i.customer_id for i in invitations]
    rows = await conn.execute(_OF_CUSTOMERS, {"event_id": event_id, "customers": customers})
    by_customer = {r.customer_id: as_row(InvitationRow, r) for r in rows}
    return [by_customer[c] for c in customers]


async def get_invitation(
    conn: AsyncConnection, event_id: str, invitation_id: str, *, lock: bool = False
) -> InvitationRow | None:
    """The invitation (its row locked with `lock`, after the event's), None when none."""
    params = {"event_id": event_id, "id": invitation_id}
    if lock and (await conn.execute(_LOCK_INVITATION, params)).first() is None:
        return None
    row = (await conn.execute(_GET_INVITATION, params)).first()
    return as_row(InvitationRow, row) if row else None


async def waitlist(conn: AsyncConnection, event_id: str) -> list[Waiting]:
    """The waitlist in turn."""
    rows = await conn.execute(_WAITLIST, {"event_id": event_id})
    return [Waiting(r.id, r.plus_ones) for r in rows]


async def answer(
    conn: AsyncConnection,
    event_id: str,
    invitation_id: str,
    *,
    state: str,
    plus_ones: int,
    channel: str,
    at: datetime,
) -> InvitationRow:
    """Her answer recorded (places follow through the trigger); EventFull when the event
    has no room for it."""
    params = {
        "event_id": event_id,
        "id": invitation_id,
        "state": state,
        "plus_ones": plus_ones,
        "channel": channel,
        "at": at,
    }
    if await guarded(conn, _ANSWER, params, {WITHIN_CAPACITY: EventFull}) is None:
        raise NotFound(f"events/{event_id}/invitations/{invitation_id}")
    return await _reread(conn, event_id, invitation_id)


async def promote(conn: AsyncConnection, event_id: str, invitation_ids: Sequence[str]) -> list[InvitationRow]:
    """These waitlisted invitations accepted (each keeps the plus-ones she asked for);
    EventFull when they do not fit."""
    if not invitation_ids:
        return []
    params = {"event_id": event_id, "ids": list(invitation_ids)}
    await guarded(conn, _PROMOTE, params, {WITHIN_CAPACITY: EventFull})
    rows = await conn.execute(_SOME_INVITATIONS, params)
    by_id = {r.id: as_row(InvitationRow, r) for r in rows}
    return [by_id[i] for i in invitation_ids]


async def check_in(
    conn: AsyncConnection, event_id: str, invitation_id: str, arrived_guests: int, at: datetime
) -> InvitationRow:
    params = {"event_id": event_id, "id": invitation_id, "arrived": arrived_guests, "at": at}
    if (await conn.execute(_CHECK_IN, params)).first() is None:
        raise NotFound(f"events/{event_id}/invitations/{invitation_id}")
    return await _reread(conn, event_id, invitation_id)


async def _reread(conn: AsyncConnection, event_id: str, invitation_id: str) -> InvitationRow:
    row = (await conn.execute(_GET_INVITATION, {"event_id": event_id, "id": invitation_id})).one()
    return as_row(InvitationRow, row)
