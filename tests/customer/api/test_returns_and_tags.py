"""Returns bounded by what was bought, and computed tags following the facts."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import grpc

from tests.conftest import associate
from tests.customer.support import (
    ago,
    amounts,
    create,
    denied_reason,
    events_of,
    get,
    invalid_fields,
    known_store,
    line,
    purchase,
    record,
    record_return,
    rpc_error,
    scalar,
    uid,
)

RETURNED = "atelier.customer.purchase_returned"


async def test_return_is_bounded_by_what_is_left(customer_service, purchase_stub, customer_stub, db):
    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    p = await record(purchase_stub, target.name, purchase(line("A", "100", 3), line("B", "50", 1), store=store))
    after = await record_return(purchase_stub, p.name, "r-1", {"1": 2})
    assert [(item.line_id, item.returned_quantity) for item in after.lines] == [("1", 2), ("2", 0)]
    assert amounts([after.total]) == {"EUR": Decimal(150)}
    assert [(r.return_id, amounts([r.amount])) for r in after.returns] == [("r-1", {"EUR": Decimal(200)})]

    exc = await rpc_error(record_return(purchase_stub, p.name, "r-2", {"1": 2, "2": 1}))
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await invalid_fields(record_return(purchase_stub, p.name, "r-2", {"1": 2, "2": 1})) == ["lines[0].quantity"]
    assert await invalid_fields(record_return(purchase_stub, p.name, "r-2", {"9": 1})) == ["lines[0].line_id"]
    assert await invalid_fields(record_return(purchase_stub, p.name, "", {"1": 0})) == [
        "return_id",
        "lines[0].quantity",
    ]
    assert await invalid_fields(record_return(purchase_stub, p.name, "r-3", {"1": 1}, when=ago(days=30))) == [
        "return_time"
    ]
    final = await record_return(purchase_stub, p.name, "r-2", {"1": 1, "2": 1})
    assert amounts([final.total]) == {"EUR": Decimal(0)}
    stats = (await get(customer_stub, target.name)).purchase_stats
    assert amounts(stats.lifetime_value) == {"EUR": Decimal(0)} and stats.order_count == 1
    assert await events_of(db, RETURNED, target.name) == 2


async def test_replayed_return_changes_nothing(customer_service, purchase_stub, customer_stub, db):
    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    p = await record(purchase_stub, target.name, purchase(line("A", "100", 3), store=store))
    first = await record_return(purchase_stub, p.name, "r-1", {"1": 1})
    again = await record_return(purchase_stub, p.name, "r-1", {"1": 1})
    assert again == first
    assert (
        await scalar(
            db, "SELECT returned_quantity FROM purchase_lines WHERE purchase_id = %s", p.name.rsplit("/", 1)[1]
        )
        == 1
    )
    assert await events_of(db, RETURNED, target.name) == 1


async def test_concurrent_returns_never_exceed_the_quantity(customer_service, purchase_stub, customer_stub, db):
    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    p = await record(purchase_stub, target.name, purchase(line("A", "100", 2), store=store))
    results = await asyncio.gather(
        *(record_return(purchase_stub, p.name, f"r-{i}", {"1": 1}) for i in range(5)), return_exceptions=True
    )
    assert sum(1 for r in results if not isinstance(r, Exception)) == 2
    assert all(r.code() == grpc.StatusCode.INVALID_ARGUMENT for r in results if isinstance(r, Exception))
    assert (
        await scalar(
            db, "SELECT returned_quantity FROM purchase_lines WHERE purchase_id = %s", p.name.rsplit("/", 1)[1]
        )
        == 2
    )


async def test_return_authorisation(customer_service, purchase_stub, customer_stub):
    paris, milan = await known_store(customer_service), await known_store(customer_service)
    holder = associate(milan, f"a-{uid()}")
    target = await create(customer_stub, holder, home_store=milan)
    p = await record(purchase_stub, target.name, purchase(line("A", "100"), store=milan))
    # Another associate of the same store does not hold her.
    assert (
        await denied_reason(record_return(purchase_stub, p.name, "r-1", {"1": 1}, associate(milan, "a-other")))
        == "CUSTOMER_OUT_OF_SCOPE"
    )
    assert (
        await denied_reason(record_return(purchase_stub, p.name, "r-1", {"1": 1}, associate(paris)))
        == "CUSTOMER_OUT_OF_SCOPE"
    )
    assert (await record_return(purchase_stub, p.name, "r-1", {"1": 1}, holder)).returns


async def test_vip_appears_when_the_threshold_is_crossed_and_goes_after_a_return(
    customer_service, purchase_stub, customer_stub
):
    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    await record(purchase_stub, target.name, purchase(line("A", "6000", 1, "watches"), store=store))
    assert "vip" not in [t.tag for t in (await get(customer_stub, target.name)).computed_tags]
    p = await record(purchase_stub, target.name, purchase(line("B", "3200", 2, "watches"), store=store))
    tags = {t.tag: t for t in (await get(customer_stub, target.name)).computed_tags}
    assert tags["vip"].reason == "lifetime value EUR 12,400 ≥ 10,000"
    assert tags["vip"].since.seconds > 0
    assert (await get(customer_stub, target.name)).tags == []  # manual tags stay separate
    await record_return(purchase_stub, p.name, "r-1", {"1": 1})
    tags = {t.tag for t in (await get(customer_stub, target.name)).computed_tags}
    assert "vip" not in tags


async def test_vip_thresholds_are_per_currency(customer_service, purchase_stub, customer_stub):
    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    # 9,000 EUR and 9,000 USD do not add up to a VIP; 80,000 CNY does.
    await record(purchase_stub, target.name, purchase(line("A", "9000"), store=store))
    await record(purchase_stub, target.name, purchase(line("A", "9000", currency="USD"), store=store))
    assert "vip" not in {t.tag for t in (await get(customer_stub, target.name)).computed_tags}
    await record(purchase_stub, target.name, purchase(line("A", "80000", currency="CNY"), store=store))
    vip = {t.tag: t for t in (await get(customer_stub, target.name)).computed_tags}["vip"]
    assert vip.reason == "lifetime value CNY 80,000 ≥ 80,000"


async def test_category_affinity_and_new_client(customer_service, purchase_stub, customer_stub):
    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    first = ago(days=3)
    await record(
        purchase_stub,
        target.name,
        purchase(line("A", "700", 1, "Leather Goods"), line("B", "100", 3, "fragrance"), store=store, when=first),
    )
    tags = {t.tag: t for t in (await get(customer_stub, target.name)).computed_tags}
    assert set(tags) == {"affinity-leather-goods", "affinity-fragrance", "new-client"}
    assert tags["affinity-leather-goods"].reason == "leather goods: 70% of spend (EUR 700 of 1,000)"
    assert tags["new-client"].since.ToDatetime().replace(microsecond=0) == first.replace(microsecond=0, tzinfo=None)


async def test_lapsed_is_derived_from_the_last_purchase_date(customer_service, purchase_stub, customer_stub):
    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    await record(purchase_stub, target.name, purchase(line("A", "10"), store=store, when=ago(days=400)))
    tags = {t.tag: t for t in (await get(customer_stub, target.name)).computed_tags}
    assert "lapsed" in tags and "new-client" not in tags
    assert tags["lapsed"].reason.startswith("no purchase since ")
    # Her next purchase ends the lapse, with no batch involved.
    await record(purchase_stub, target.name, purchase(line("A", "10"), store=store, when=ago(days=1)))
    assert "lapsed" not in {t.tag for t in (await get(customer_stub, target.name)).computed_tags}


async def test_customer_without_purchases_has_no_figures(customer_service, customer_stub):
    target = await create(customer_stub, home_store=await known_store(customer_service))
    assert not target.HasField("purchase_stats") and list(target.computed_tags) == []


async def test_incremental_figures_equal_a_rebuild_from_the_purchases(purchase_stub, customer_stub, customer_service):
    """What the purchase and return paths keep current is what a full recomputation from
    the purchases gives (the rebuild is what merges use)."""
    from services.customer.storage import stats

    store = await known_store(customer_service)
    target = await create(customer_stub, home_store=store)
    a = await record(
        purchase_stub,
        target.name,
        purchase(line("A", "1200.25", 2, "watches"), line("B", "300", 1, "fragrance"), store=store, when=ago(days=200)),
    )
    await record(purchase_stub, target.name, purchase(line("C", "5000", 1, "bags", currency="USD"), store=store))
    await record_return(purchase_stub, a.name, "r-1", {"1": 1, "2": 1})
    incremental = (await get(customer_stub, target.name)).purchase_stats
    cid = target.name.split("/")[1]
    async with customer_service.runtime.engine.begin() as conn:
        before = await stats.of(conn, cid)
        await stats.rebuild(conn, cid)
        assert await stats.of(conn, cid) == before
    assert (await get(customer_stub, target.name)).purchase_stats == incremental
