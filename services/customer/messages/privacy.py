"""Exports, erasures and the audit trail to contract messages."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from google.protobuf import json_format

from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import customer_service_pb2 as customer_api
from atelier.customer.v1 import privacy_service_pb2 as api
from servicekit import idempotency, wire

from ..storage.privacy import AuditRow

EXPORT_FORMAT = "atelier.customer.export/v1"


def export(
    customer: customer_pb2.Customer,
    held: dict[str, list[Any]],
    elsewhere: dict[str, dict[str, Any]],
    missing: list[str],
    export_time: datetime,
) -> api.ExportCustomerResponse:
    """Her profile as the API shows it, every row this service holds about her, per table,
    and what each other service holds (`elsewhere`, by service), as JSON. `missing`: the
    services this one is not configured to ask, said in the document ("incomplete")."""
    document = {
        "format": EXPORT_FORMAT,
        "export_time": export_time.isoformat(),
        "customer": json_format.MessageToDict(customer),
        **held,
        **elsewhere,
    }
    if missing:
        document["incomplete"] = dict.fromkeys(missing, "not configured to be asked")
    response = api.ExportCustomerResponse(json=json.dumps(document, ensure_ascii=False, default=str))
    response.export_time.FromDatetime(export_time)
    return response


# The reply each idempotent method stores, and its fields that name customers (or their
# child resources): what erasure reads to tell whether a stored reply is about her.
_REPLY_NAMES: idempotency.ReplyNames = {
    "CreateCustomer": (customer_pb2.Customer, ("name",)),
    "CreateNote": (customer_pb2.Note, ("name",)),
    "MergeCustomers": (customer_api.Merge, ("survivor", "duplicate")),
}


def customers_named(method: str, reply: bytes) -> set[str]:
    """The customers a stored reply of `method` is about (servicekit.idempotency)."""
    return idempotency.customers_named(_REPLY_NAMES, method, reply)


def erasure(name: str, erase_time: datetime, counts: dict[str, int]) -> api.EraseCustomerResponse:
    response = api.EraseCustomerResponse(name=name, erased=counts)
    response.erase_time.FromDatetime(erase_time)
    return response


def audit_record(row: AuditRow) -> api.AuditRecord:
    return api.AuditRecord(
        actor=row.actor,
        role=row.role,
        action=row.action,
        resource=row.resource,
        purpose=row.purpose,
        request_id=row.request_id,
        occur_time=wire.timestamp(row.occur_time),
    )
