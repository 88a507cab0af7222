"""Stores and associates: CRUD with field masks, etags, request ids, validation naming
fields, role checks and events."""

from __future__ import annotations

import uuid

import grpc
from google.type import dayofweek_pb2

from atelier.associate.v1 import associate_pb2, store_pb2
from atelier.associate.v1 import associate_service_pb2 as api
from servicekit import event_types
from tests.conftest import associate, hq, manager

from ..support import (
    ASSOCIATE,
    MANAGER,
    TIMEOUT,
    bad_fields,
    denied_reason,
    error_info,
    make_associate,
    make_store,
    mask,
    md,
    new_store_message,
    rpc_error,
    uid,
)

Status = associate_pb2.AssociateStatus


async def test_create_store_round_trips_hours_and_exceptions(associate_stub):
    message = new_store_message(time_zone="Asia/Shanghai")
    holiday = message.exceptions.add(closed=True, label="National Day")
    holiday.date.year, holiday.date.month, holiday.date.day = 2026, 10, 1
    created = await associate_stub.CreateStore(
        api.CreateStoreRequest(store=message), metadata=md(hq()), timeout=TIMEOUT
    )
    got = await associate_stub.GetStore(api.GetStoreRequest(name=created.name), metadata=md(hq()), timeout=TIMEOUT)
    assert got.time_zone == "Asia/Shanghai"
    assert [(h.day, h.open_time.hours, h.close_time.hours) for h in got.weekly_hours] == [
        (dayofweek_pb2.MONDAY, 10, 19)
    ]
    assert got.exceptions[0].closed and got.exceptions[0].date.month == 10
    assert got.etag == "v1"


async def test_store_validation_names_every_bad_field(associate_stub, adb):
    message = store_pb2.Store(code="bad code!", display_name="", time_zone="Europe/Atlantis")
    hours = message.weekly_hours.add(day=dayofweek_pb2.TUESDAY)
    hours.open_time.hours, hours.close_time.hours = 18, 9
    before = (await (await adb.execute("SELECT count(*) FROM stores")).fetchone())[0]
    exc = await rpc_error(
        associate_stub.CreateStore(api.CreateStoreRequest(store=message), metadata=md(hq()), timeout=TIMEOUT)
    )
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(bad_fields(exc)) == {
        "store.code",
        "store.display_name",
        "store.time_zone",
        "store.weekly_hours[0].close_time",
    }
    assert (await (await adb.execute("SELECT count(*) FROM stores")).fetchone())[0] == before


async def test_store_code_is_unique(associate_stub):
    code = f"U-{uid()}"
    await make_store(associate_stub, code=code)
    exc = await rpc_error(make_store(associate_stub, code=code))
    assert exc.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_info(exc).reason == "STORE_CODE_TAKEN"


async def test_store_create_is_idempotent_and_hq_only(associate_stub):
    request = api.CreateStoreRequest(store=new_store_message(), request_id=str(uuid.uuid4()))
    first = await associate_stub.CreateStore(request, metadata=md(hq()), timeout=TIMEOUT)
    again = await associate_stub.CreateStore(request, metadata=md(hq()), timeout=TIMEOUT)
    assert again == first
    reason = await denied_reason(
        associate_stub.CreateStore(
            api.CreateStoreRequest(store=new_store_message()), metadata=md(manager(first.name)), timeout=TIMEOUT
        )
    )
    assert reason == "ROLE_DENIED"


async def test_manager_updates_hours_with_etag_but_not_the_name(associate_stub):
    store = await make_store(associate_stub)
    change = store_pb2.Store(name=store.name, etag=store.etag)
    hours = change.weekly_hours.add(day=dayofweek_pb2.SATURDAY)
    hours.open_time.hours, hours.close_time.hours = 11, 18
    updated = await associate_stub.UpdateStore(
        api.UpdateStoreRequest(store=change, update_mask=mask("weekly_hours")),
        metadata=md(manager(store.name)),
        timeout=TIMEOUT,
    )
    assert [h.day for h in updated.weekly_hours] == [dayofweek_pb2.SATURDAY]
    assert updated.etag == "v2" and updated.display_name == store.display_name
    stale = await rpc_error(
        associate_stub.UpdateStore(
            api.UpdateStoreRequest(store=change, update_mask=mask("weekly_hours")), metadata=md(hq()), timeout=TIMEOUT
        )
    )
    assert stale.code() == grpc.StatusCode.ABORTED and error_info(stale).reason == "ETAG_MISMATCH"
    reason = await denied_reason(
        associate_stub.UpdateStore(
            api.UpdateStoreRequest(
                store=store_pb2.Store(name=store.name, display_name="X"), update_mask=mask("display_name")
            ),
            metadata=md(manager(store.name)),
            timeout=TIMEOUT,
        )
    )
    assert reason == "ROLE_DENIED"


async def test_associate_gets_a_unique_stable_referral_code(associate_stub):
    store = await make_store(associate_stub)
    one = await make_associate(associate_stub, store.name, languages=["fr", "zh-Hans"], specialities=["watches"])
    two = await make_associate(associate_stub, store.name)
    assert len(one.referral_code) == 8 and one.referral_code != two.referral_code
    assert one.status == Status.ASSOCIATE_STATUS_ACTIVE and one.book_size == 0
    updated = await associate_stub.UpdateAssociate(
        api.UpdateAssociateRequest(
            associate=associate_pb2.Associate(name=one.name, capacity=80, etag=one.etag), update_mask=mask("capacity")
        ),
        metadata=md(manager(store.name)),
        timeout=TIMEOUT,
    )
    assert updated.capacity == 80 and updated.referral_code == one.referral_code and updated.etag == "v2"


async def test_associate_validation_names_fields(associate_stub):
    exc = await rpc_error(
        associate_stub.CreateAssociate(
            api.CreateAssociateRequest(
                associate=associate_pb2.Associate(
                    store="shops/x",
                    display_name="",
                    capacity=-1,
                    languages=["not a tag"],
                    specialities=["Watches!"],
                    status=Status.ASSOCIATE_STATUS_DEPARTED,
                )
            ),
            metadata=md(hq()),
            timeout=TIMEOUT,
        )
    )
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(bad_fields(exc)) == {
        "associate.store",
        "associate.display_name",
        "associate.role",
        "associate.status",
        "associate.languages[0]",
        "associate.specialities[0]",
        "associate.capacity",
    }


async def test_associate_role_checks(associate_stub):
    store = await make_store(associate_stub)
    other = await make_store(associate_stub)
    # A manager staffs her own store, not another, and never creates headquarters staff.
    await make_associate(associate_stub, store.name, principal=manager(store.name))
    assert (
        await denied_reason(make_associate(associate_stub, other.name, principal=manager(store.name)))
    ) == "ROLE_DENIED"
    assert (
        await denied_reason(
            make_associate(
                associate_stub, store.name, role=associate_pb2.StaffRole.STAFF_ROLE_HQ, principal=manager(store.name)
            )
        )
    ) == "ROLE_DENIED"
    # An associate edits her languages but not her capacity.
    me = await make_associate(associate_stub, store.name)
    me_principal = associate(store.name, me.name.split("/")[1])
    changed = await associate_stub.UpdateAssociate(
        api.UpdateAssociateRequest(
            associate=associate_pb2.Associate(name=me.name, languages=["ja"]), update_mask=mask("languages")
        ),
        metadata=md(me_principal),
        timeout=TIMEOUT,
    )
    assert list(changed.languages) == ["ja"]
    assert (
        await denied_reason(
            associate_stub.UpdateAssociate(
                api.UpdateAssociateRequest(
                    associate=associate_pb2.Associate(name=me.name, capacity=999), update_mask=mask("capacity")
                ),
                metadata=md(me_principal),
                timeout=TIMEOUT,
            )
        )
    ) == "ROLE_DENIED"


async def test_list_associates_of_a_store_pages(associate_stub):
    store = await make_store(associate_stub)
    made = [await make_associate(associate_stub, store.name, role=MANAGER if i == 0 else ASSOCIATE) for i in range(3)]
    seen, token = [], ""
    while True:
        page = await associate_stub.ListAssociates(
            api.ListAssociatesRequest(filter=f'store = "{store.name}"', page_size=2, page_token=token),
            metadata=md(hq()),
            timeout=TIMEOUT,
        )
        seen += [a.name for a in page.associates]
        token = page.next_page_token
        if not token:
            break
    assert seen == [a.name for a in made]


async def test_changes_emit_events(associate_stub, adb):
    store = await make_store(associate_stub)
    made = await make_associate(associate_stub, store.name)
    rows = await (
        await adb.execute(
            "SELECT event_type FROM outbox WHERE event_type LIKE 'atelier.associate.%' ORDER BY seq DESC LIMIT 2"
        )
    ).fetchall()
    assert [r[0] for r in rows] == [event_types.ASSOCIATE_CREATED, event_types.STORE_CREATED]
    assert made.name
