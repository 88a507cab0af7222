"""A customer's data as a whole to contract messages: her export, and the customers a
stored reply names (what her erasure reads)."""

from __future__ import annotations

import json
from typing import Any

from atelier.associate.v1 import assignment_pb2, task_pb2
from atelier.associate.v1 import associate_service_pb2 as api
from servicekit import idempotency


def export(held: dict[str, list[Any]]) -> api.ExportCustomerDataResponse:
    """Every row held about her, per table, as one JSON object."""
    return api.ExportCustomerDataResponse(json=json.dumps(held, ensure_ascii=False, default=str, sort_keys=True))


# The reply each idempotent method stores that can name a customer, and those fields.
_REPLY_NAMES: idempotency.ReplyNames = {
    "CreateTask": (task_pb2.Task, ("customer",)),
    "ClaimClient": (assignment_pb2.Claim, ("customer",)),
    "TransferClient": (assignment_pb2.CustomerAssignment, ("name",)),
}


def customers_named(method: str, reply: bytes) -> set[str]:
    """The customers a stored reply of `method` is about (servicekit.idempotency)."""
    return idempotency.customers_named(_REPLY_NAMES, method, reply)
