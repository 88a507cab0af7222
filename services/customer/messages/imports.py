"""What ImportCustomers answers: the counts of every batch and the rejected rows."""

from __future__ import annotations

from google.rpc import error_details_pb2

from atelier.customer.v1 import customer_service_pb2 as api

from ..storage.imports import BatchOutcome

# The response lists at most this many rejected rows (the counts are always complete):
# a file that is wrong on every line must not produce a response larger than itself.
MAX_LISTED_REJECTIONS = 10_000


def add_outcome(response: api.ImportCustomersResponse, batch_id: str, outcome: BatchOutcome) -> None:
    response.accepted += outcome.accepted
    response.merged += outcome.merged
    response.rejected += len(outcome.rejected)
    if outcome.applied:
        response.batches_applied += 1
    else:
        response.batches_skipped += 1
    for r in outcome.rejected:
        if len(response.rejected_rows) >= MAX_LISTED_REJECTIONS:
            break
        response.rejected_rows.add(
            row_number=r.row_number,
            batch_id=batch_id,
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=f, description=d) for f, d in r.violations
            ],
        )
