"""The service's own check of a verified caller (ServiceRuntime.set_caller_gate): awaited
on every RPC once the principal verifies, before the servicer runs; what it raises is the
call's answer (a departed associate is refused everywhere, audit item 7)."""

from __future__ import annotations

import grpc
import pytest

from atelier.customer.v1 import customer_service_pb2 as api
from servicekit.auth import Principal, Role
from servicekit.errors import PermissionDenied
from tests.conftest import associate, hq, metadata_for
from tests.servicekit.support import error_reason


async def test_the_gate_refuses_a_caller_before_the_servicer_and_lets_others_through(kit, kit_stub):
    seen: list[str] = []

    async def gate(caller: Principal) -> None:
        seen.append(caller.subject)
        if caller.role is Role.ASSOCIATE and caller.associate_id == "gone":
            raise PermissionDenied("associates/gone has departed", reason="CALLER_INACTIVE")

    kit.runtime.set_caller_gate(gate)
    reached_before = len(kit.servicer.reached)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await kit_stub.GetCustomer(
            api.GetCustomerRequest(name="customers/anyone"),
            metadata=metadata_for(associate("stores/paris", "gone")),
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_reason(refused.value) == "CALLER_INACTIVE"
    assert len(kit.servicer.reached) == reached_before

    # Another caller passes the gate and reaches the servicer.
    reply = await kit_stub.GetCustomer(api.GetCustomerRequest(name="customers/anyone"), metadata=metadata_for(hq()))
    assert reply.name == "customers/anyone"
    assert len(kit.servicer.reached) == reached_before + 1
    assert seen == ["associates/gone", hq().subject]
