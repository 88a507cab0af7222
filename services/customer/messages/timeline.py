"""A page of a customer's timeline to its contract message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from atelier.customer.v1 import timeline_service_pb2 as api
from servicekit import wire

from ..domain.consent import Answer
from ..domain.timeline import EntryKind
from ..storage.interactions import InteractionRow
from ..storage.notes import NoteRow
from ..storage.purchases import PurchaseRow
from .customers import consent_change, note
from .purchases import interaction, purchase


@dataclass(frozen=True)
class Entries:
    """The rows a page's entries show, by key."""

    interactions: dict[str, InteractionRow]
    purchases: dict[str, PurchaseRow]
    notes: dict[str, NoteRow]
    consent_changes: dict[int, Answer]


def timeline(parent: str, keys: list[tuple[datetime, int, str]], entries: Entries) -> api.ListTimelineResponse:
    """The entries named by `keys` ((time, kind, key), newest first)."""
    response = api.ListTimelineResponse()
    for when, kind, key in keys:
        entry = response.entries.add(occur_time=wire.timestamp(when))
        if kind == EntryKind.INTERACTION:
            entry.interaction.CopyFrom(interaction(entries.interactions[key]))
        elif kind == EntryKind.PURCHASE:
            entry.purchase.CopyFrom(purchase(entries.purchases[key]))
        elif kind == EntryKind.NOTE:
            entry.note.CopyFrom(note(parent, entries.notes[key]))
        else:
            entry.consent_change.CopyFrom(consent_change(entries.consent_changes[int(key)]))
    return response
