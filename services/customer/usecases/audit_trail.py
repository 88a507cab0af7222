"""Audit records of reads of customers' personal data: who (the verified principal), what
(the RPC and the customer), when, and why (the purpose the caller stated, else the RPC
name). Every read is audited, one record per customer whose data it returned: single
reads (GetCustomer, GetPurchase), lists and searches (ListCustomers, SearchCustomers,
ListNotes, ListPurchases, ListConsentChanges, ListTimeline), streams and duplicate
candidates, exports. Records are batched off the request path (servicekit.audit.AuditWriter)
except an export's, which commits with it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from servicekit.audit import AuditRecord, AuditWriter
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

    def record_each(self, audit: AuditWriter, caller: Principal, resources: Iterable[str]) -> None:
        """Buffer one record per customer a read returned (none for an empty page)."""
        for resource in dict.fromkeys(resources):
            audit.record(self.record(caller, resource))
