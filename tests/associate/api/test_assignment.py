"""Assignments over the API: transfers and claims with their role checks, history and
idempotency; an associate sees only the assignments she holds."""

from __future__ import annotations

import uuid

import grpc

from atelier.associate.v1 import assignment_pb2
from atelier.associate.v1 import associate_service_pb2 as api
from atelier.events.v1 import associate_events_pb2 as ev
from tests.conftest import associate, hq, manager

from ..support import (
    TIMEOUT,
    aid,
    bad_fields,
    bound,
    customer_created,
    denied_reason,
    make_associate,
    make_store,
    md,
    primary_of,
    publish,
    rpc_error,
    uid,
)

Reason = ev.AssignmentReason


async def _held(associate_service, associate_stub, adb, store):
    holder = await make_associate(associate_stub, store.name)
    cid = f"c-{uid()}"
    await publish(associate_service, customer_created(cid, store.name, referral_code=holder.referral_code))
    await bound(adb, cid)
    return holder, cid


async def test_transfer_by_the_stores_manager_with_reason_and_history(associate_service, associate_stub, adb):
    store = await make_store(associate_stub)
    holder, cid = await _held(associate_service, associate_stub, adb, store)
    taker = await make_associate(associate_stub, store.name)
    name = f"customers/{cid}/assignment"
    exc = await rpc_error(
        associate_stub.TransferClient(
            api.TransferClientRequest(name=name, associate=taker.name),
            metadata=md(manager(store.name)),
            timeout=TIMEOUT,
        )
    )
    assert bad_fields(exc) == ["reason"]
    moved = await associate_stub.TransferClient(
        api.TransferClientRequest(name=name, associate=taker.name, reason="speaks Mandarin"),
        metadata=md(manager(store.name)),
        timeout=TIMEOUT,
    )
    assert moved.primary_associate == taker.name and moved.reason == Reason.ASSIGNMENT_REASON_TRANSFER
    history = await associate_stub.ListAssignmentHistory(
        api.ListAssignmentHistoryRequest(parent=f"customers/{cid}"), metadata=md(manager(store.name)), timeout=TIMEOUT
    )
    assert [(r.previous_associate, r.associate, r.reason) for r in history.records] == [
        (holder.name, taker.name, Reason.ASSIGNMENT_REASON_TRANSFER),
        ("", holder.name, Reason.ASSIGNMENT_REASON_REFERRAL),
    ]
    assert history.records[0].note == "speaks Mandarin" and history.records[0].actor.startswith("staff/mgr-")
    sizes = [
        (
            await associate_stub.GetAssociate(api.GetAssociateRequest(name=n), metadata=md(hq()), timeout=TIMEOUT)
        ).book_size
        for n in (holder.name, taker.name)
    ]
    assert sizes == [0, 1]


async def test_transfer_role_denials(associate_service, associate_stub, adb):
    store, other = await make_store(associate_stub), await make_store(associate_stub)
    holder, cid = await _held(associate_service, associate_stub, adb, store)
    elsewhere = await make_associate(associate_stub, other.name)
    request = api.TransferClientRequest(
        name=f"customers/{cid}/assignment", associate=elsewhere.name, reason="moved city"
    )
    assert (
        await denied_reason(
            associate_stub.TransferClient(request, metadata=md(associate(store.name, aid(holder))), timeout=TIMEOUT)
        )
        == "ROLE_DENIED"
    )
    # Neither store's manager alone moves a client between two stores; headquarters does.
    assert (
        await denied_reason(associate_stub.TransferClient(request, metadata=md(manager(other.name)), timeout=TIMEOUT))
        == "ROLE_DENIED"
    )
    moved = await associate_stub.TransferClient(request, metadata=md(hq()), timeout=TIMEOUT)
    assert moved.primary_associate == elsewhere.name
    # A secondary associate is added beside the primary.
    second = await associate_stub.TransferClient(
        api.TransferClientRequest(
            name=request.name,
            associate=holder.name,
            reason="travels to Paris",
            role=ev.AssignmentRole.ASSIGNMENT_ROLE_SECONDARY,
        ),
        metadata=md(hq()),
        timeout=TIMEOUT,
    )
    assert second.primary_associate == elsewhere.name and list(second.secondary_associates) == [holder.name]


async def test_claim_approved_by_the_manager(associate_service, associate_stub, adb):
    store = await make_store(associate_stub)
    _holder, cid = await _held(associate_service, associate_stub, adb, store)
    claimant = await make_associate(associate_stub, store.name)
    me = associate(store.name, aid(claimant))
    claim = await associate_stub.ClaimClient(
        api.ClaimClientRequest(claim=assignment_pb2.Claim(customer=f"customers/{cid}", reason="her long-time advisor")),
        metadata=md(me),
        timeout=TIMEOUT,
    )
    assert claim.state == assignment_pb2.Claim.STATE_PENDING and claim.associate == claimant.name
    again = await rpc_error(
        associate_stub.ClaimClient(
            api.ClaimClientRequest(claim=assignment_pb2.Claim(customer=f"customers/{cid}", reason="again")),
            metadata=md(me),
            timeout=TIMEOUT,
        )
    )
    assert again.code() == grpc.StatusCode.ALREADY_EXISTS
    assert (
        await denied_reason(
            associate_stub.ApproveClaim(api.ApproveClaimRequest(name=claim.name), metadata=md(me), timeout=TIMEOUT)
        )
        == "ROLE_DENIED"
    )
    mine = await associate_stub.ListClaims(api.ListClaimsRequest(), metadata=md(me), timeout=TIMEOUT)
    assert [c.name for c in mine.claims] == [claim.name]
    approved = await associate_stub.ApproveClaim(
        api.ApproveClaimRequest(name=claim.name, note="agreed"), metadata=md(manager(store.name)), timeout=TIMEOUT
    )
    assert approved.state == assignment_pb2.Claim.STATE_APPROVED and approved.decided_by.startswith("staff/mgr-")
    assert await primary_of(adb, cid) == (aid(claimant), Reason.ASSIGNMENT_REASON_CLAIM)


async def test_claim_rejection_needs_a_note(associate_service, associate_stub, adb):
    store = await make_store(associate_stub)
    holder, cid = await _held(associate_service, associate_stub, adb, store)
    claimant = await make_associate(associate_stub, store.name)
    claim = await associate_stub.ClaimClient(
        api.ClaimClientRequest(claim=assignment_pb2.Claim(customer=f"customers/{cid}", reason="met her at the event")),
        metadata=md(associate(store.name, aid(claimant))),
        timeout=TIMEOUT,
    )
    exc = await rpc_error(
        associate_stub.RejectClaim(
            api.RejectClaimRequest(name=claim.name), metadata=md(manager(store.name)), timeout=TIMEOUT
        )
    )
    assert bad_fields(exc) == ["note"]
    rejected = await associate_stub.RejectClaim(
        api.RejectClaimRequest(name=claim.name, note="stays with her advisor"),
        metadata=md(manager(store.name)),
        timeout=TIMEOUT,
    )
    assert rejected.state == assignment_pb2.Claim.STATE_REJECTED
    assert (await primary_of(adb, cid))[0] == aid(holder)


async def test_an_associate_sees_only_assignments_she_holds(associate_service, associate_stub, adb):
    store = await make_store(associate_stub)
    holder, cid = await _held(associate_service, associate_stub, adb, store)
    other = await make_associate(associate_stub, store.name)
    name = f"customers/{cid}/assignment"
    got = await associate_stub.GetCustomerAssignment(
        api.GetCustomerAssignmentRequest(name=name), metadata=md(associate(store.name, aid(holder))), timeout=TIMEOUT
    )
    assert got.primary_associate == holder.name
    assert (
        await denied_reason(
            associate_stub.GetCustomerAssignment(
                api.GetCustomerAssignmentRequest(name=name),
                metadata=md(associate(store.name, aid(other))),
                timeout=TIMEOUT,
            )
        )
        == "CUSTOMER_OUT_OF_SCOPE"
    )


async def test_transfer_request_id_returns_the_first_result(associate_service, associate_stub, adb):
    store = await make_store(associate_stub)
    _holder, cid = await _held(associate_service, associate_stub, adb, store)
    taker = await make_associate(associate_stub, store.name)
    request = api.TransferClientRequest(
        name=f"customers/{cid}/assignment", associate=taker.name, reason="rebalancing", request_id=str(uuid.uuid4())
    )
    first = await associate_stub.TransferClient(request, metadata=md(hq()), timeout=TIMEOUT)
    again = await associate_stub.TransferClient(request, metadata=md(hq()), timeout=TIMEOUT)
    assert again == first
    history = await (
        await adb.execute("SELECT count(*) FROM assignment_history WHERE customer_id = %s", (cid,))
    ).fetchone()
    assert history[0] == 2
    exc = await rpc_error(
        associate_stub.TransferClient(
            api.TransferClientRequest(name=f"customers/{cid}", associate="people/x", reason=""),
            metadata=md(hq()),
            timeout=TIMEOUT,
        )
    )
    assert set(bad_fields(exc)) == {"name", "associate", "reason"}
