"""Who moves a customer between associates, over gRPC against the real database (audit
items 1, 2, 8 and 10, and the two NOT_FOUND cells beyond the audit): a transfer concerns
her home store and her holders' stores whatever the role; claims belong to her home
store; a customer, claim or hand-over that does not exist answers store staff like one
out of their reach and headquarters NOT_FOUND."""

from __future__ import annotations

import grpc

from atelier.associate.v1 import assignment_pb2, associate_pb2
from atelier.associate.v1 import associate_service_pb2 as api
from atelier.events.v1 import associate_events_pb2 as ev
from tests.conftest import associate, hq, manager

from ..support import (
    TIMEOUT,
    aid,
    bound,
    customer_created,
    erased,
    eventually,
    make_associate,
    make_store,
    mask,
    md,
    primary_of,
    publish,
    rpc_error,
    uid,
)

SECONDARY = ev.AssignmentRole.ASSIGNMENT_ROLE_SECONDARY


async def _held(service, stub, adb, store, holder=None):
    """A customer of `store` bound to `holder` (a new associate of it by default) by referral."""
    holder = holder or await make_associate(stub, store.name)
    cid = f"c-{uid()}"
    await publish(service, customer_created(cid, store.name, referral_code=holder.referral_code))
    await bound(adb, cid)
    return holder, cid


async def _pooled(service, adb, store_name: str) -> str:
    """A customer of a store nobody takes clients in: she waits in the pool."""
    cid = f"c-{uid()}"
    await publish(service, customer_created(cid, store_name))

    async def pooled():
        return await (await adb.execute("SELECT 1 FROM hq_pool WHERE customer_id = %s", (cid,))).fetchone()

    await eventually(pooled)
    return cid


async def _status(awaitable) -> grpc.StatusCode:
    return (await rpc_error(awaitable)).code()


def _transfer(cid: str, to: associate_pb2.Associate, role=SECONDARY) -> api.TransferClientRequest:
    return api.TransferClientRequest(name=f"customers/{cid}/assignment", associate=to.name, role=role, reason="cover")


def _claim(cid: str) -> api.ClaimClientRequest:
    return api.ClaimClientRequest(claim=assignment_pb2.Claim(customer=f"customers/{cid}", reason="she knows me"))


async def _secondaries(adb, cid: str) -> list[str]:
    rows = await (
        await adb.execute("SELECT associate_id FROM assignments WHERE customer_id = %s AND role = 2", (cid,))
    ).fetchall()
    return [r[0] for r in rows]


# -- item 1 ----------------------------------------------------------------------------------


async def test_another_stores_manager_cannot_add_her_associate_as_a_secondary(associate_service, associate_stub, adb):
    paris, milan = await make_store(associate_stub), await make_store(associate_stub)
    _, cid = await _held(associate_service, associate_stub, adb, paris)
    stranger = await make_associate(associate_stub, milan.name)
    for role in (SECONDARY, ev.AssignmentRole.ASSIGNMENT_ROLE_PRIMARY):
        code = await _status(
            associate_stub.TransferClient(
                _transfer(cid, stranger, role), metadata=md(manager(milan.name)), timeout=TIMEOUT
            )
        )
        assert code == grpc.StatusCode.PERMISSION_DENIED
    assert await _secondaries(adb, cid) == []
    # Her own store's manager adds her colleague; headquarters anyone.
    colleague = await make_associate(associate_stub, paris.name)
    added = await associate_stub.TransferClient(
        _transfer(cid, colleague), metadata=md(manager(paris.name)), timeout=TIMEOUT
    )
    assert list(added.secondary_associates) == [colleague.name]
    await associate_stub.TransferClient(_transfer(cid, stranger), metadata=md(hq()), timeout=TIMEOUT)
    assert sorted(await _secondaries(adb, cid)) == sorted([aid(colleague), aid(stranger)])


async def test_a_holder_in_another_store_takes_the_transfer_out_of_her_home_managers_hands(
    associate_service, associate_stub, adb
):
    paris, milan = await make_store(associate_stub), await make_store(associate_stub)
    _, cid = await _held(associate_service, associate_stub, adb, paris)
    await associate_stub.TransferClient(
        _transfer(cid, await make_associate(associate_stub, milan.name)), metadata=md(hq()), timeout=TIMEOUT
    )
    colleague = await make_associate(associate_stub, paris.name)
    for boss in (manager(paris.name), manager(milan.name)):
        code = await _status(
            associate_stub.TransferClient(_transfer(cid, colleague), metadata=md(boss), timeout=TIMEOUT)
        )
        assert code == grpc.StatusCode.PERMISSION_DENIED


async def test_a_manager_gives_customers_only_to_active_associates_of_her_store(associate_service, associate_stub, adb):
    paris, milan = await make_store(associate_stub), await make_store(associate_stub)
    _, cid = await _held(associate_service, associate_stub, adb, paris)
    stranger = await make_associate(associate_stub, milan.name)
    code = await _status(
        associate_stub.TransferClient(_transfer(cid, stranger), metadata=md(manager(paris.name)), timeout=TIMEOUT)
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED
    away = await make_associate(associate_stub, paris.name)
    await associate_stub.UpdateAssociate(
        api.UpdateAssociateRequest(
            associate=associate_pb2.Associate(name=away.name, status=associate_pb2.ASSOCIATE_STATUS_ON_LEAVE),
            update_mask=mask("status"),
        ),
        metadata=md(hq()),
        timeout=TIMEOUT,
    )
    for boss in (manager(paris.name), hq()):
        exc = await rpc_error(associate_stub.TransferClient(_transfer(cid, away), metadata=md(boss), timeout=TIMEOUT))
        assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert await _secondaries(adb, cid) == []


async def test_a_transfer_of_a_customer_nobody_heard_of_plants_nothing(associate_service, associate_stub, adb):
    paris = await make_store(associate_stub)
    mine = await make_associate(associate_stub, paris.name)
    nobody = f"zz-missing-{uid()}"
    _, known = await _held(associate_service, associate_stub, adb, await make_store(associate_stub))
    boss = md(manager(paris.name))
    unknown = await rpc_error(associate_stub.TransferClient(_transfer(nobody, mine), metadata=boss, timeout=TIMEOUT))
    elsewhere = await rpc_error(associate_stub.TransferClient(_transfer(known, mine), metadata=boss, timeout=TIMEOUT))
    assert unknown.code() == elsewhere.code() == grpc.StatusCode.PERMISSION_DENIED
    assert unknown.details() == elsewhere.details().replace(known, nobody)
    exc = await rpc_error(associate_stub.TransferClient(_transfer(nobody, mine), metadata=md(hq()), timeout=TIMEOUT))
    assert exc.code() == grpc.StatusCode.NOT_FOUND
    rows = await (await adb.execute("SELECT count(*) FROM assignments WHERE customer_id = %s", (nobody,))).fetchone()
    assert rows[0] == 0


# -- item 2 ----------------------------------------------------------------------------------


async def test_only_her_home_stores_staff_claim_a_pool_customer(associate_service, associate_stub, adb):
    paris, milan = await make_store(associate_stub), await make_store(associate_stub)
    cid = await _pooled(associate_service, adb, paris.name)
    stranger = await make_associate(associate_stub, milan.name)
    code = await _status(
        associate_stub.ClaimClient(_claim(cid), metadata=md(associate(milan.name, aid(stranger))), timeout=TIMEOUT)
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED
    # A customer that does not exist answers the same.
    nobody = await rpc_error(
        associate_stub.ClaimClient(
            _claim(f"zz-missing-{uid()}"), metadata=md(associate(milan.name, aid(stranger))), timeout=TIMEOUT
        )
    )
    assert nobody.code() == grpc.StatusCode.PERMISSION_DENIED
    mine = await make_associate(associate_stub, paris.name)
    claim = await associate_stub.ClaimClient(
        _claim(cid), metadata=md(associate(paris.name, aid(mine))), timeout=TIMEOUT
    )
    assert claim.state == assignment_pb2.Claim.STATE_PENDING


async def test_a_claim_is_decided_by_her_home_stores_manager(associate_service, associate_stub, adb):
    paris, milan = await make_store(associate_stub), await make_store(associate_stub)
    cid = await _pooled(associate_service, adb, paris.name)
    mine = await make_associate(associate_stub, paris.name)
    claim = await associate_stub.ClaimClient(
        _claim(cid), metadata=md(associate(paris.name, aid(mine))), timeout=TIMEOUT
    )
    boss = md(manager(milan.name))
    approve = associate_stub.ApproveClaim(api.ApproveClaimRequest(name=claim.name), metadata=boss, timeout=TIMEOUT)
    assert await _status(approve) == grpc.StatusCode.PERMISSION_DENIED
    reject = associate_stub.RejectClaim(
        api.RejectClaimRequest(name=claim.name, note="no"), metadata=boss, timeout=TIMEOUT
    )
    assert await _status(reject) == grpc.StatusCode.PERMISSION_DENIED
    assert await primary_of(adb, cid) is None
    approved = await associate_stub.ApproveClaim(
        api.ApproveClaimRequest(name=claim.name, note="welcome"), metadata=md(manager(paris.name)), timeout=TIMEOUT
    )
    assert approved.state == assignment_pb2.Claim.STATE_APPROVED
    assert (await primary_of(adb, cid))[0] == aid(mine)


async def test_a_claim_that_does_not_exist_answers_staff_like_another_stores(associate_service, associate_stub, adb):
    paris, milan = await make_store(associate_stub), await make_store(associate_stub)
    cid = await _pooled(associate_service, adb, paris.name)
    mine = await make_associate(associate_stub, paris.name)
    theirs = await associate_stub.ClaimClient(
        _claim(cid), metadata=md(associate(paris.name, aid(mine))), timeout=TIMEOUT
    )
    missing = f"claims/zz-missing-{uid()}"
    for name in (theirs.name, missing):
        request = api.ApproveClaimRequest(name=name, note="x")
        code = await _status(associate_stub.ApproveClaim(request, metadata=md(manager(milan.name)), timeout=TIMEOUT))
        assert code == grpc.StatusCode.PERMISSION_DENIED
    exc = await rpc_error(
        associate_stub.RejectClaim(api.RejectClaimRequest(name=missing, note="x"), metadata=md(hq()), timeout=TIMEOUT)
    )
    assert exc.code() == grpc.StatusCode.NOT_FOUND


# -- item 8: a hand-over -------------------------------------------------------------------------


async def test_a_hand_over_that_does_not_exist_answers_staff_like_another_stores(associate_stub):
    paris, milan = await make_store(associate_stub), await make_store(associate_stub)
    leaving = await make_associate(associate_stub, paris.name)
    done = await associate_stub.DepartAssociate(
        api.DepartAssociateRequest(name=leaving.name), metadata=md(manager(paris.name)), timeout=TIMEOUT
    )
    missing = f"handOvers/zz-missing-{uid()}"
    for name in (done.name, missing):
        request = api.GetHandOverRequest(name=name)
        code = await _status(associate_stub.GetHandOver(request, metadata=md(manager(milan.name)), timeout=TIMEOUT))
        assert code == grpc.StatusCode.PERMISSION_DENIED
    exc = await rpc_error(
        associate_stub.GetHandOver(api.GetHandOverRequest(name=missing), metadata=md(hq()), timeout=TIMEOUT)
    )
    assert exc.code() == grpc.StatusCode.NOT_FOUND


# -- beyond the audit: history and book of what does not exist ------------------------------------


async def test_headquarters_learns_that_a_customers_history_or_a_stores_book_does_not_exist(associate_stub):
    history = await rpc_error(
        associate_stub.ListAssignmentHistory(
            api.ListAssignmentHistoryRequest(parent=f"customers/zz-missing-{uid()}"), metadata=md(hq()), timeout=TIMEOUT
        )
    )
    assert history.code() == grpc.StatusCode.NOT_FOUND
    book = await rpc_error(
        associate_stub.ListClientBook(
            api.ListClientBookRequest(parent=f"stores/zz-missing-{uid()}"), metadata=md(hq()), timeout=TIMEOUT
        )
    )
    assert book.code() == grpc.StatusCode.NOT_FOUND
    paris = await make_store(associate_stub)
    staff_answer = await rpc_error(
        associate_stub.ListAssignmentHistory(
            api.ListAssignmentHistoryRequest(parent=f"customers/zz-missing-{uid()}"),
            metadata=md(manager(paris.name)),
            timeout=TIMEOUT,
        )
    )
    assert staff_answer.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_an_erased_customers_history_stays_readable_by_headquarters(associate_service, associate_stub, adb):
    paris = await make_store(associate_stub)
    _, cid = await _held(associate_service, associate_stub, adb, paris)
    await publish(associate_service, erased(cid))

    async def gone():
        return await primary_of(adb, cid) is None

    await eventually(gone)
    history = await associate_stub.ListAssignmentHistory(
        api.ListAssignmentHistoryRequest(parent=f"customers/{cid}"), metadata=md(hq()), timeout=TIMEOUT
    )
    assert len(history.records) == 2  # the referral, then the erasure
    # A transfer of her is a transfer of nobody.
    exc = await rpc_error(
        associate_stub.TransferClient(
            _transfer(cid, await make_associate(associate_stub, paris.name)), metadata=md(hq()), timeout=TIMEOUT
        )
    )
    assert exc.code() == grpc.StatusCode.NOT_FOUND
