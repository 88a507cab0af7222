"""Exports, erasures and the audit trail to contract messages."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from google.protobuf import json_format

from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import privacy_service_pb2 as api
from servicekit import wire

from ..storage.privacy import AuditRow

EXPORT_FORMAT = "atelier.customer.export/v1"


def export(
    customer: customer_pb2.Customer, held: dict[str, list[Any]], export_time: datetime
) -> api.ExportCustomerResponse:
    """Her profile as the API shows it and every row held about her, per table, as JSON."""
    document = {
        "format": EXPORT_FORMAT,
        "export_time": export_time.isoformat(),
        "customer": json_format.MessageToDict(customer),
        **held,
    }
    response = api.ExportCustomerResponse(json=json.dumps(document, ensure_ascii=False, default=str))
    response.export_time.FromDatetime(export_time)
    return response


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
