"""What the associate service holds about a customer, asked over gRPC for her export
(DESIGN: an export gathers what every service holds). Internal calls carry the original
principal: the caller's own principal token and request id are forwarded, with a
deadline, so the associate service applies its own rules to the same caller. Nothing is
retried here (the caller retries the export); an associate service that cannot answer
fails the export rather than leave it silently partial."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import grpc

from atelier.associate.v1 import associate_service_pb2 as associate_api
from atelier.associate.v1 import associate_service_pb2_grpc
from servicekit.auth import PRINCIPAL_METADATA_KEY
from servicekit.errors import PermissionDenied, Unavailable

# The longest an export waits for the associate service (less if the caller's own
# deadline is nearer).
DEADLINE_SECONDS = 10.0


@dataclass(frozen=True)
class Forwarded:
    """What travels with an internal call: the caller's principal token, her request id,
    and the time left for the answer."""

    principal_token: str
    request_id: str
    timeout: float


class AssociateExports:
    """A client of AssociateService.ExportCustomerData (one channel per process)."""

    def __init__(self, address: str):
        self.address = address
        self._channel: grpc.aio.Channel | None = None
        self._stub: associate_service_pb2_grpc.AssociateServiceAsyncStub | None = None

    def client(self) -> associate_service_pb2_grpc.AssociateServiceAsyncStub:
        """The stub over the one channel to the associate service (exports, directory sync)."""
        # Made on first use, inside the running loop grpc.aio binds it to.
        if self._stub is None:
            self._channel = grpc.aio.insecure_channel(self.address, options=[("grpc.enable_http_proxy", 0)])
            self._stub = associate_service_pb2_grpc.AssociateServiceStub(self._channel)
        return self._stub

    async def held(self, name: str, forwarded: Forwarded) -> dict[str, Any]:
        """Everything it holds about `name` (`customers/{id}`), per kind of record; empty
        when it never heard of her. UNAVAILABLE when it cannot answer in time; its refusal
        of the caller is the caller's PERMISSION_DENIED."""
        metadata = ((PRINCIPAL_METADATA_KEY, forwarded.principal_token), ("x-request-id", forwarded.request_id))
        request = associate_api.ExportCustomerDataRequest(name=name)
        try:
            reply = await self.client().ExportCustomerData(request, metadata=metadata, timeout=forwarded.timeout)
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.NOT_FOUND:
                return {}
            if code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED):
                raise PermissionDenied(
                    f"the associate service refused to export {name} for this caller",
                    reason="EXPORT_REFUSED",
                    metadata={"service": "associate", "code": code.name},
                ) from None
            raise Unavailable(
                "the associate service did not answer; an export without its data would be incomplete, retry later",
                reason="EXPORT_SOURCE_UNAVAILABLE",
                metadata={"service": "associate", "code": code.name},
            ) from None
        held: dict[str, Any] = json.loads(reply.json)
        return held

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
