"""Reads of personal data in the associate service leave audit records in its own trail
(audit_records, servicekit.audit), like the customer service's reads: one per customer a
client book page or an export showed, with the caller, the RPC and her stated purpose."""

from __future__ import annotations

import grpc

from atelier.associate.v1 import associate_service_pb2 as api
from tests.conftest import manager

from ..support import (
    TIMEOUT,
    customer_created,
    eventually,
    make_associate,
    make_store,
    md,
    primary_of,
    publish,
    rpc_error,
    uid,
)


async def trail(adb, resource: str, purpose: str) -> list[tuple[str, str, str]]:
    rows = await (
        await adb.execute(
            "SELECT actor, role, action FROM audit_records WHERE resource = %s AND purpose = %s", (resource, purpose)
        )
    ).fetchall()
    return [tuple(r) for r in rows]


async def test_books_and_exports_are_audited_with_the_stated_purpose(associate_service, associate_stub, adb):
    store = await make_store(associate_stub)
    holder = await make_associate(associate_stub, store.name)
    customer_id = f"c-{uid()}"
    await publish(associate_service, customer_created(customer_id, store.name, referral_code=holder.referral_code))
    await eventually(lambda: primary_of(adb, customer_id))
    her = f"customers/{customer_id}"
    boss = manager(store.name)
    reads = {
        "ListClientBook": [
            api.ListClientBookRequest(parent=holder.name),
            api.ListClientBookRequest(parent=store.name),
        ],
        "ExportCustomerData": [api.ExportCustomerDataRequest(name=her)],
    }
    for action, requests in reads.items():
        for request in requests:
            purpose = f"audit-test {uid()}"
            metadata = (*md(boss), ("x-atelier-purpose", purpose))
            rpc = associate_stub.ListClientBook if action == "ListClientBook" else associate_stub.ExportCustomerData
            await rpc(request, metadata=metadata, timeout=TIMEOUT)

            async def recorded(purpose: str = purpose, action: str = action) -> bool:
                return await trail(adb, her, purpose) == [(boss.subject, boss.role.value, action)]

            await eventually(recorded)


async def test_without_a_stated_purpose_the_rpc_is_the_purpose_and_a_refused_read_records_nothing(
    associate_service, associate_stub, adb
):
    store, elsewhere = await make_store(associate_stub), await make_store(associate_stub)
    holder = await make_associate(associate_stub, store.name)
    customer_id = f"c-{uid()}"
    await publish(associate_service, customer_created(customer_id, store.name, referral_code=holder.referral_code))
    await eventually(lambda: primary_of(adb, customer_id))
    her = f"customers/{customer_id}"
    request = api.ExportCustomerDataRequest(name=her)
    stranger = manager(elsewhere.name)
    refused = await rpc_error(associate_stub.ExportCustomerData(request, metadata=md(stranger), timeout=TIMEOUT))
    assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
    await associate_stub.ExportCustomerData(request, metadata=md(manager(store.name)), timeout=TIMEOUT)
    rows = await (await adb.execute("SELECT actor, purpose FROM audit_records WHERE resource = %s", (her,))).fetchall()
    assert [tuple(r) for r in rows] == [(manager(store.name).subject, "ExportCustomerData")]
