"""Merges and duplicate candidates to contract messages."""

from __future__ import annotations

from atelier.customer.v1 import customer_service_pb2 as api
from servicekit import wire

from ..domain.merging import Candidate
from ..storage.merges import MergeRow


def merge(row: MergeRow) -> api.Merge:
    msg = api.Merge(
        name=f"merges/{row.id}",
        survivor=f"customers/{row.survivor_id}",
        duplicate=f"customers/{row.duplicate_id}",
        actor=row.actor,
        undo_actor=row.undo_actor,
        moved=row.counts(),
    )
    msg.create_time.CopyFrom(wire.timestamp(row.create_time))
    if row.undo_time is not None:
        msg.undo_time.CopyFrom(wire.timestamp(row.undo_time))
    return msg


def duplicates(candidates: list[Candidate]) -> api.FindDuplicatesResponse:
    return api.FindDuplicatesResponse(
        candidates=[
            api.DuplicateCandidate(
                customer=f"customers/{c.customer}",
                other=f"customers/{c.other}",
                score=c.score,
                reasons=[
                    api.DuplicateReason(kind=api.DuplicateReasonKind.ValueType(kind), detail=detail)
                    for kind, detail in c.reasons
                ],
            )
            for c in candidates
        ]
    )
