"""Audit records of reads of customers' personal data in this service, as the customer
service keeps them (servicekit.audit): who (the verified principal), what (the RPC and
the customer), when, and why (the purpose the caller stated, else the RPC name). One
record per customer a read returned: a client book page (batched off the request path by
the AuditWriter), an export of her data (committed with the read)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from servicekit.audit import AuditRecord
from servicekit.auth import Principal


@dataclass(frozen=True)
class ReadAudit:
    """Why personal data is being read: the RPC, the caller's purpose and the request id."""

    action: str
    purpose: str
    request_id: str

    def records(self, caller: Principal, customer_ids: Iterable[str]) -> list[AuditRecord]:
        """One record per customer (`customers/{id}`), none for an empty read."""
        return [
            AuditRecord(
                caller.subject, caller.role.value, self.action, f"customers/{cid}", self.purpose, self.request_id
            )
            for cid in dict.fromkeys(customer_ids)
        ]
