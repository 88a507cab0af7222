"""Audit records of reads of a customer's personal data (GetCustomer, ExportCustomer,
ListTimeline): who (the verified principal), what (the RPC and the customer), when, and
why (the purpose the caller stated, else the RPC name)."""

from __future__ import annotations

from dataclasses import dataclass

from servicekit.audit import AuditRecord
from servicekit.auth import Principal


@dataclass(frozen=True)
class ReadAudit:
    """Why personal data is being read: the RPC, the caller's purpose and the request id."""

    action: str
    purpose: str
    request_id: str

    def record(self, caller: Principal, resource: str) -> AuditRecord:
        return AuditRecord(
            actor=caller.subject,
            role=caller.role.value,
            action=self.action,
            resource=resource,
            purpose=self.purpose,
            request_id=self.request_id,
        )
