"""The demo maison's plan (fast, no servers): who works where, what happens to whom, and
that a reload the same day sends the very same requests (their ids make them replays)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from atelierctl import demo

TODAY = date(2026, 12, 1)


def _codes() -> dict[str, str]:
    return {staff.id: f"CODE{n:04d}" for n, staff in enumerate(s for store in demo.STORES for s in store.staff)}


def _customers(count: int = 120) -> list[demo.PlannedCustomer]:
    rng = random.Random(7)
    customers = [demo.plan_customer(i, rng, _codes()) for i in range(count)]
    for customer in customers:
        customer.name = f"customers/c{customer.index}"
        customer.holder = customer.referrer.name if customer.referrer else ""
    return customers


def test_three_boutiques_in_their_own_time_zones_each_with_a_manager_and_associates() -> None:
    assert [(s.city, s.time_zone) for s in demo.STORES] == [
        ("Paris", "Europe/Paris"),
        ("Shanghai", "Asia/Shanghai"),
        ("New York", "America/New_York"),
    ]
    ids = [staff.id for store in demo.STORES for staff in store.staff]
    assert len(ids) == len(set(ids))
    for store in demo.STORES:
        ZoneInfo(store.time_zone)
        assert store.manager.role == "STAFF_ROLE_MANAGER" and len(store.associates) >= 3
        body = demo._store_body(store, TODAY)
        assert body["timeZone"] == store.time_zone and len(body["weeklyHours"]) >= 6
        assert all(h["openTime"]["hours"] < h["closeTime"]["hours"] for h in body["weeklyHours"])


def test_customers_are_bound_by_referral_by_the_store_rule_or_wait_in_the_pool() -> None:
    customers = _customers()
    referred = [c for c in customers if c.referrer is not None]
    by_rule = [c for c in customers if c.store is not None and c.referrer is None]
    online = [c for c in customers if c.store is None]
    assert referred and by_rule and online
    for customer in referred:
        assert customer.store is not None and customer.referrer in customer.store.associates
        assert customer.body["referralCode"] == _codes()[customer.referrer.id]
    assert all("homeStore" not in c.body and "referralCode" not in c.body for c in online)


def test_some_purchases_and_visits_were_three_days_ago_so_their_follow_ups_fall_due_today() -> None:
    three_days_ago = (TODAY - timedelta(days=3)).isoformat()
    recent = 0
    for customer in _customers():
        activity = demo.plan_activity(customer, 7, TODAY)
        zone = ZoneInfo((customer.store or demo.STORES[0]).time_zone)
        times = [p["orderTime"] for p in activity.purchases] + [v["occurTime"] for v in activity.visits]
        recent += sum(
            datetime.fromisoformat(t.replace("Z", "+00:00")).astimezone(zone).date().isoformat() == three_days_ago
            for t in times
        )
        for purchase in activity.purchases:
            if purchase["channel"] == "SALES_CHANNEL_STORE":
                assert purchase["store"] == (customer.store or demo.STORES[0]).name
    assert recent >= 5


def test_a_reload_the_same_day_sends_the_same_requests() -> None:
    first, again = _customers(), _customers()
    assert [c.body for c in first] == [c.body for c in again]
    for a, b in zip(first, again, strict=True):
        assert demo.plan_activity(a, 7, TODAY) == demo.plan_activity(b, 7, TODAY)
    paris = demo.STORES[0]
    morning = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    evening = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
    assert demo._errand_due(paris, morning) == demo._errand_due(paris, evening)
    assert demo._errand_due(paris, morning).astimezone(ZoneInfo("Europe/Paris")).hour == 18


def test_sign_in_roles_cover_headquarters_and_each_stores_manager_and_an_associate() -> None:
    roles = demo.sign_in_roles()
    assert roles[0] == ("headquarters", "hq", "", "")
    for store in demo.STORES:
        assert (f"{store.city} manager", "manager", store.name, store.manager.id) in roles
        assert any(r[1] == "associate" and r[2] == store.name and r[3] for r in roles)
