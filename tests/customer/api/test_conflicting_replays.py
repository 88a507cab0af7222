"""A replay keyed by the caller's own id must repeat its request (issue 8, item 17): the
same order id or interaction external id with another body is refused with a typed error
naming the field, and records nothing; the identical replay still answers what was
recorded."""

from __future__ import annotations

import grpc

from atelier.common.v1 import common_pb2
from atelier.customer.v1 import interaction_pb2
from tests.customer.support import (
    IKind,
    ago,
    create,
    error_info,
    events_of,
    get,
    interaction,
    known_store,
    line,
    purchase,
    record,
    rpc_error,
    scalar,
    uid,
)

RECORDED = "atelier.customer.purchase_recorded"


async def refused(awaitable, field: str, reason: str) -> None:
    exc = await rpc_error(awaitable)
    assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION, exc.details()
    info = error_info(exc)
    assert (info.reason, dict(info.metadata)) == (reason, {"field": field})


async def test_an_order_id_resent_with_another_body_is_refused(customer_service, customer_stub, purchase_stub, db):
    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    someone_else = await create(customer_stub, home_store=store)
    order_id, when = f"pos-{uid()}", ago(hours=2)
    sale = purchase(line("W-1", "1000"), store=store, order_id=order_id, when=when)
    first = await record(purchase_stub, target.name, sale)

    for other_customer, body in (
        (target.name, purchase(line("W-1", "1000", quantity=2), store=store, order_id=order_id, when=when)),
        (target.name, purchase(line("W-1", "999"), store=store, order_id=order_id, when=when)),
        (target.name, purchase(line("W-1", "1000"), line("W-2", "5"), store=store, order_id=order_id, when=when)),
        (someone_else.name, sale),
    ):
        await refused(record(purchase_stub, other_customer, body), "purchase.order_id", "ORDER_ID_REUSED")

    assert await record(purchase_stub, target.name, sale) == first
    assert await scalar(db, "SELECT count(*) FROM purchases WHERE order_id = %s", order_id) == 1
    assert await events_of(db, RECORDED, target.name) == 1
    assert (await get(customer_stub, someone_else.name)).purchase_stats.order_count == 0
    assert (await get(customer_stub, target.name)).purchase_stats.order_count == 1


async def test_an_external_id_resent_with_another_body_is_refused(customer_service, customer_stub, timeline_stub, db):
    target = await create(customer_stub, home_store=await known_store(customer_service))
    external = f"wamid.{uid()}"
    message = dict(
        kind=IKind.INTERACTION_KIND_MESSAGE,
        channel=common_pb2.CHANNEL_WHATSAPP,
        direction=interaction_pb2.DIRECTION_INBOUND,
        preview="Is the ring ready?",
        external_id=external,
        when=ago(minutes=3),
    )
    first = await interaction(timeline_stub, target.name, **message)

    for change in ({"preview": "Is the bag ready?"}, {"when": ago(minutes=1)}, {"store": "stores/elsewhere"}):
        await refused(
            interaction(timeline_stub, target.name, **{**message, **change}),
            "interaction.external_id",
            "EXTERNAL_ID_REUSED",
        )

    assert await interaction(timeline_stub, target.name, **message) == first
    assert await scalar(db, "SELECT count(*) FROM interactions WHERE external_id = %s", external) == 1
    assert await events_of(db, "atelier.customer.interaction_recorded", target.name) == 1
