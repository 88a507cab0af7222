"""Attribution of purchases and performance figures over a seeded scenario, corrections
with their audit, and who may see or correct what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import grpc

from atelier.associate.v1 import performance_pb2
from atelier.associate.v1 import performance_service_pb2 as api
from atelier.customer.v1 import interaction_pb2, purchase_pb2
from servicekit import event_types
from servicekit.wire import to_decimal as decimal

from ..support import (
    TIMEOUT,
    assign,
    associate_p,
    denied_reason,
    hq_p,
    interaction_recorded,
    invalid_fields,
    manager_p,
    md,
    publish,
    purchase_recorded,
    rpc_error,
    seed_store,
    settle,
    ts,
    uid,
)

Basis = performance_pb2.AttributionBasis
Kind = interaction_pb2.InteractionKind
IN, OUT = interaction_pb2.DIRECTION_INBOUND, interaction_pb2.DIRECTION_OUTBOUND
STORE, ONLINE = purchase_pb2.SALES_CHANNEL_STORE, purchase_pb2.SALES_CHANNEL_ONLINE


def at(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


async def _ledger(stub, principal, scope: str) -> dict[str, performance_pb2.Attribution]:
    listed = await stub.ListAttributions(
        api.ListAttributionsRequest(scope=scope), metadata=md(principal), timeout=TIMEOUT
    )
    return {a.purchase: a for a in listed.attributions}


async def test_attribution_assisting_primary_none_and_performance(tasks_service, performance_stub, db):
    store, (a1, a2) = await seed_store(db, "Europe/Paris", associates=("a", "b"))
    c1, c2, c3, c4, c5, c6 = (f"c-{uid()}" for _ in range(6))
    for cid in (c1, c2, c5, c6):
        await assign(db, cid, a1, reason=2, when=at(9, 1))
    await assign(db, c3, a2, reason=1, when=at(9, 1))  # referral before the period
    await db.execute(
        "UPDATE assignment_history SET reason = 1, change_time = %s WHERE customer_id = %s", (at(10, 5), c1)
    )  # c1 came through a1's QR card in October

    p1 = purchase_recorded(c1, store=store, order_time=at(10, 10), amount=1000)  # primary, in touch 9 days ago
    p2 = purchase_recorded(c2, store=store, order_time=at(10, 12), amount=500)  # primary but out of touch
    p3 = purchase_recorded(c3, store=store, order_time=at(10, 14), amount=2000, assisting=a1)  # assisting wins
    p4 = purchase_recorded(c4, store=store, order_time=at(10, 15), amount=300, assisting=a2, customer_created=True)
    p5 = purchase_recorded(c1, store=store, order_time=at(10, 20), amount=200, channel=ONLINE)
    p6 = purchase_recorded(c1, store=store, order_time=at(10, 21), amount=100, currency="USD", assisting=a1)
    await publish(
        tasks_service,
        interaction_recorded(c1, kind=Kind.INTERACTION_KIND_STORE_VISIT, occur_time=at(10, 1), store=store),
        interaction_recorded(c2, kind=Kind.INTERACTION_KIND_STORE_VISIT, occur_time=at(8, 1), store=store),
        interaction_recorded(
            c5, kind=Kind.INTERACTION_KIND_MESSAGE, direction=IN, occur_time=at(10, 2, 10), store=store
        ),
        interaction_recorded(
            c6, kind=Kind.INTERACTION_KIND_MESSAGE, direction=IN, occur_time=at(10, 3, 9), store=store
        ),
        interaction_recorded(c3, kind=Kind.INTERACTION_KIND_MESSAGE, direction=IN, occur_time=at(8, 3, 9), store=store),
    )
    # The answers come after the messages opened their reply tasks: 30 minutes and 2 hours
    # by a1, 1 hour by a2.
    await settle(tasks_service)
    await publish(
        tasks_service,
        interaction_recorded(
            c5,
            kind=Kind.INTERACTION_KIND_MESSAGE,
            direction=OUT,
            occur_time=at(10, 2, 10, 30),
            associate=a1,
            store=store,
        ),
        interaction_recorded(
            c6, kind=Kind.INTERACTION_KIND_MESSAGE, direction=OUT, occur_time=at(10, 3, 11), associate=a1, store=store
        ),
        interaction_recorded(
            c3, kind=Kind.INTERACTION_KIND_MESSAGE, direction=OUT, occur_time=at(8, 3, 10), associate=a2, store=store
        ),
    )
    await settle(tasks_service)
    await publish(tasks_service, p1, p2, p3, p4, p5, p6)
    await settle(tasks_service)

    ledger = await _ledger(performance_stub, manager_p(store), f"stores/{store}")
    credit = {p.subject: (ledger[p.subject].associate, ledger[p.subject].basis) for p in (p1, p2, p3, p4, p5, p6)}
    assert credit == {
        p1.subject: (f"associates/{a1}", Basis.ATTRIBUTION_BASIS_PRIMARY),
        p2.subject: ("", Basis.ATTRIBUTION_BASIS_NONE),
        p3.subject: (f"associates/{a1}", Basis.ATTRIBUTION_BASIS_ASSISTING),
        p4.subject: (f"associates/{a2}", Basis.ATTRIBUTION_BASIS_ASSISTING),
        p5.subject: (f"associates/{a1}", Basis.ATTRIBUTION_BASIS_PRIMARY),
        p6.subject: (f"associates/{a1}", Basis.ATTRIBUTION_BASIS_ASSISTING),
    }
    assert ledger[p4.subject].customer_created and ledger[p5.subject].channel == ONLINE
    assert decimal(ledger[p3.subject].amount) == 2000 and ledger[p6.subject].amount.currency_code == "USD"

    # a1's follow-ups: two done on time, one late, the rest never done.
    follow_ups = await (
        await db.execute(
            "SELECT id, due_time FROM tasks WHERE associate_id = %s AND rule LIKE 'follow_up%%' AND due_time >= %s "
            "ORDER BY due_time",
            (a1, at(10, 1, 0)),
        )
    ).fetchall()
    assert len(follow_ups) == 5  # the c1 visit, and the purchases of c1 (x3) and c2 (her visit was in August)
    for (task_id, due), delta in zip(follow_ups, (-1, -2, 24), strict=False):
        await db.execute(
            "UPDATE tasks SET status = 2, complete_time = %s WHERE id = %s", (due + timedelta(hours=delta), task_id)
        )

    period = dict(start_time=ts(at(10, 1, 0)), end_time=ts(at(11, 1, 0)))
    mine = await performance_stub.GetPerformance(
        api.GetPerformanceRequest(scope=f"associates/{a1}", **period),
        metadata=md(associate_p(store, a1)),
        timeout=TIMEOUT,
    )
    sales = {
        (s.amount.currency_code, s.channel): (decimal(s.amount), s.orders, decimal(s.average_order_value))
        for s in mine.sales
    }
    assert sales[("EUR", 0)][:2] == (Decimal(3200), 3)
    assert abs(sales[("EUR", 0)][2] - Decimal("1066.666666666")) < Decimal("0.000001")
    assert sales[("EUR", STORE)][:2] == (Decimal(3000), 2)
    assert sales[("EUR", ONLINE)] == (Decimal(200), 1, Decimal(200))
    assert sales[("USD", 0)][:2] == (Decimal(100), 1)
    assert mine.attributed_orders == 4
    assert mine.book_size == 4
    assert mine.new_referral_customers == 1
    # 5 follow-ups + 2 replies due; the replies were answered in time, as were 2 follow-ups.
    assert (mine.tasks_due, mine.tasks_done_on_time) == (7, 4)
    assert mine.tasks_done_on_time_percent == round(400 / 7, 2)
    assert mine.answered_messages == 2 and mine.median_reply_time.seconds == 75 * 60
    assert (mine.store_transactions, mine.store_transactions_known) == (3, 3)  # p1, p3 and p6

    shop = await performance_stub.GetPerformance(
        api.GetPerformanceRequest(scope=f"stores/{store}", **period), metadata=md(manager_p(store)), timeout=TIMEOUT
    )
    assert shop.attributed_orders == 5  # all but p2
    assert shop.book_size == 5
    assert (shop.store_transactions, shop.store_transactions_known) == (5, 4)
    assert shop.known_customer_share_percent == 80.0
    assert shop.answered_messages == 2  # the August message is outside the period


async def test_correction_is_audited_and_restricted(tasks_service, performance_stub, db):
    store, (a1, a2) = await seed_store(db, associates=("a", "b"))
    other_store, _ = await seed_store(db)
    cid = f"c-{uid()}"
    purchase = purchase_recorded(cid, store=store, order_time=datetime.now(UTC), assisting=a1)
    await publish(tasks_service, purchase)
    await settle(tasks_service)
    entry = (await _ledger(performance_stub, hq_p(), f"stores/{store}"))[purchase.subject]
    boss = manager_p(store)

    assert await invalid_fields(
        performance_stub.CorrectAttribution(
            api.CorrectAttributionRequest(name=entry.name, associate="a2", reason=" "),
            metadata=md(boss),
            timeout=TIMEOUT,
        )
    ) == ["associate", "reason"]
    assert (
        await denied_reason(
            performance_stub.CorrectAttribution(
                api.CorrectAttributionRequest(name=entry.name, associate=f"associates/{a2}", reason="mine"),
                metadata=md(associate_p(store, a2)),
                timeout=TIMEOUT,
            )
        )
        == "ROLE_DENIED"
    )
    assert (
        await denied_reason(
            performance_stub.CorrectAttribution(
                api.CorrectAttributionRequest(name=entry.name, associate=f"associates/{a2}", reason="x"),
                metadata=md(manager_p(other_store)),
                timeout=TIMEOUT,
            )
        )
        == "SCOPE_DENIED"
    )

    corrected = await performance_stub.CorrectAttribution(
        api.CorrectAttributionRequest(
            name=entry.name,
            associate=f"associates/{a2}",
            reason="she did the fitting; a1 only rang it up",
            etag=entry.etag,
        ),
        metadata=md(boss),
        timeout=TIMEOUT,
    )
    assert corrected.associate == f"associates/{a2}" and corrected.basis == Basis.ATTRIBUTION_BASIS_CORRECTED
    stale = await rpc_error(
        performance_stub.CorrectAttribution(
            api.CorrectAttributionRequest(name=entry.name, reason="again", etag=entry.etag),
            metadata=md(boss),
            timeout=TIMEOUT,
        )
    )
    assert stale.code() == grpc.StatusCode.ABORTED
    uncredited = await performance_stub.CorrectAttribution(
        api.CorrectAttributionRequest(name=entry.name, reason="staff purchase: nobody is credited"),
        metadata=md(hq_p()),
        timeout=TIMEOUT,
    )
    assert uncredited.associate == ""
    history = [(c.previous_associate, c.associate, c.reason, c.actor) for c in uncredited.corrections]
    assert history == [
        (f"associates/{a1}", f"associates/{a2}", "she did the fitting; a1 only rang it up", boss.subject),
        (f"associates/{a2}", "", "staff purchase: nobody is credited", hq_p().subject),
    ]
    events = await (
        await db.execute(
            "SELECT count(*) FROM outbox WHERE event_type = %s AND envelope LIKE %s",
            (event_types.ATTRIBUTION_CORRECTED, b"%" + entry.name.encode() + b"%"),
        )
    ).fetchone()
    assert events[0] == 2


async def test_a_correction_credits_only_an_active_associate_of_the_managers_store(tasks_service, performance_stub, db):
    """Audit item 6: a manager credits an active associate of her own store; headquarters
    any associate that exists; an associate that does not exist is a bad `associate`."""
    store, (a1, a2, away) = await seed_store(db, associates=("a", "b", "c"))
    _, (stranger,) = await seed_store(db)
    await db.execute("UPDATE associates SET status = 2 WHERE id = %s", (away,))  # on leave
    purchase = purchase_recorded(f"c-{uid()}", store=store, order_time=datetime.now(UTC), assisting=a1)
    await publish(tasks_service, purchase)
    await settle(tasks_service)
    entry = (await _ledger(performance_stub, hq_p(), f"stores/{store}"))[purchase.subject]

    def correct(who, associate: str):
        request = api.CorrectAttributionRequest(name=entry.name, associate=associate, reason="she served her")
        return performance_stub.CorrectAttribution(request, metadata=md(who), timeout=TIMEOUT)

    boss = manager_p(store)
    assert await denied_reason(correct(boss, f"associates/{stranger}")) == "SCOPE_DENIED"
    assert (await rpc_error(correct(boss, f"associates/{away}"))).code() == grpc.StatusCode.FAILED_PRECONDITION
    for who in (boss, hq_p()):
        assert await invalid_fields(correct(who, f"associates/nobody-{uid()}")) == ["associate"]
    unchanged = await _ledger(performance_stub, hq_p(), f"stores/{store}")
    assert unchanged[purchase.subject].associate == f"associates/{a1}"
    assert (await correct(boss, f"associates/{a2}")).associate == f"associates/{a2}"
    assert (await correct(hq_p(), f"associates/{stranger}")).associate == f"associates/{stranger}"


async def test_figures_authorisation(tasks_service, performance_stub, db):
    store, (a1, a2) = await seed_store(db, associates=("a", "b"))
    other_store, (b1,) = await seed_store(db)
    period = dict(start_time=ts(at(10, 1)), end_time=ts(at(11, 1)))
    me = associate_p(store, a1)
    for scope in (f"associates/{a2}", f"stores/{store}", ""):
        assert (
            await denied_reason(
                performance_stub.GetPerformance(
                    api.GetPerformanceRequest(scope=scope, **period), metadata=md(me), timeout=TIMEOUT
                )
            )
            == "SCOPE_DENIED"
        )
    boss = manager_p(store)
    for scope in (f"associates/{b1}", f"stores/{other_store}", ""):
        assert (
            await denied_reason(
                performance_stub.GetPerformance(
                    api.GetPerformanceRequest(scope=scope, **period), metadata=md(boss), timeout=TIMEOUT
                )
            )
            == "SCOPE_DENIED"
        )
    ok = await performance_stub.GetPerformance(
        api.GetPerformanceRequest(scope=f"associates/{a2}", **period), metadata=md(boss), timeout=TIMEOUT
    )
    assert ok.scope == f"associates/{a2}"
    assert (
        await denied_reason(
            performance_stub.ListAttributions(
                api.ListAttributionsRequest(scope=f"stores/{store}"), metadata=md(me), timeout=TIMEOUT
            )
        )
        == "SCOPE_DENIED"
    )
    assert await invalid_fields(
        performance_stub.GetPerformance(
            api.GetPerformanceRequest(scope="customers/x", start_time=ts(at(11, 1)), end_time=ts(at(10, 1))),
            metadata=md(hq_p()),
            timeout=TIMEOUT,
        )
    ) == ["scope", "end_time"]
    assert await invalid_fields(
        performance_stub.GetPerformance(api.GetPerformanceRequest(), metadata=md(hq_p()), timeout=TIMEOUT)
    ) == ["start_time", "end_time"]
