"""Audit records of reads of a customer's personal data (GetCustomer, ExportCustomer,
ListTimeline): who (the verified principal), what (the RPC and the customer), when, and
why (the caller's `x-atelier-purpose` metadata, else the RPC name)."""

from __future__ import annotations

from servicekit import context
from servicekit.audit import AuditRecord

PURPOSE_METADATA_KEY = "x-atelier-purpose"
MAX_PURPOSE = 200


def purpose(context_, default: str) -> str:
    for key, value in context_.invocation_metadata() or ():
        if key == PURPOSE_METADATA_KEY and isinstance(value, str) and value.strip():
            return " ".join(value.split())[:MAX_PURPOSE]
    return default


def read_record(context_, action: str, resource: str) -> AuditRecord:
    caller = context.principal()
    return AuditRecord(
        actor=caller.subject,
        role=caller.role.value,
        action=action,
        resource=resource,
        purpose=purpose(context_, action),
        request_id=context.request_id(),
    )
