"""Purchases and the timeline over HTTP: a real uvicorn gateway in front of the real
customer service."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import bearer, running_gateway, start_service
from tests.customer.support import ago, known_staff, known_store


def token(role: str, store: str = "", associate_id: str = "a-1") -> dict[str, str]:
    return bearer(role, store, associate_id=associate_id if role == "associate" else "")


@pytest.fixture(scope="module")
async def http(customer_service):
    async with running_gateway({"customer": customer_service.address}) as client:
        yield client


def _iso(days: float) -> str:
    return ago(days=days).isoformat().replace("+00:00", "Z")


async def test_till_purchase_return_interaction_and_timeline_over_http(customer_service, http):
    store = await known_store(customer_service)
    clerk = token("associate", store, associate_id=f"a-{uuid.uuid4().hex[:8]}")
    assisting = await known_staff(customer_service, store)
    phone = f"+3361{uuid.uuid4().int % 10**7:07d}"
    order = {
        "contactPoints": [{"kind": "CONTACT_KIND_PHONE", "value": phone}],
        "givenName": "Margaux",
        "familyName": "Fontaine",
        "locale": "fr-FR",
        "purchase": {
            "channel": "SALES_CHANNEL_STORE",
            "orderId": f"pos-{uuid.uuid4().hex[:8]}",
            "store": store,
            "assistingAssociate": f"associates/{assisting.associate_id}",
            "orderTime": _iso(2),
            "lines": [
                {
                    "sku": "BAG-1",
                    "productName": "Sac",
                    "category": "leather-goods",
                    "quantity": 2,
                    "unitPrice": {"currencyCode": "EUR", "units": "6000"},
                }
            ],
        },
    }
    recorded = await http.post("/v1/purchases:record", json=order, headers=clerk)
    assert recorded.status_code == 200, recorded.text
    purchase = recorded.json()
    customer = purchase["name"].split("/purchases/")[0]
    assert purchase["total"] == {"currencyCode": "EUR", "units": "12000"}
    assert (await http.post("/v1/purchases:record", json=order, headers=clerk)).json() == purchase

    got = await http.get(f"/v1/{customer}", headers=clerk)
    body = got.json()
    assert body["homeStore"] == store
    assert body["purchaseStats"]["orderCount"] == 1
    assert {t["tag"] for t in body["computedTags"]} == {"vip", "new-client", "affinity-leather-goods"}

    returned = await http.post(
        f"/v1/{purchase['name']}:recordReturn",
        json={"returnId": "ret-1", "lines": [{"lineId": "1", "quantity": 1}]},
        headers=clerk,
    )
    assert returned.status_code == 200, returned.text
    assert returned.json()["total"]["units"] == "6000"
    too_many = await http.post(
        f"/v1/{purchase['name']}:recordReturn",
        json={"returnId": "ret-2", "lines": [{"lineId": "1", "quantity": 5}]},
        headers=clerk,
    )
    assert too_many.status_code == 400 and "lines[0].quantity" in too_many.text

    visit = await http.post(
        f"/v1/{customer}/interactions",
        headers=clerk,
        json={"kind": "INTERACTION_KIND_WEB_VISIT", "reference": "https://example.com/bags", "occurTime": _iso(1)},
    )
    assert visit.status_code == 200, visit.text

    listed = await http.get(f"/v1/{customer}/purchases", headers=clerk)
    assert [p["name"] for p in listed.json()["purchases"]] == [purchase["name"]]
    timeline = await http.get(f"/v1/{customer}/timeline", headers=clerk)
    entries = timeline.json()["entries"]
    assert [next(k for k in e if k != "occurTime") for e in entries] == ["interaction", "purchase"]
    only = await http.get(f"/v1/{customer}/timeline", params={"kinds": "TIMELINE_ENTRY_KIND_PURCHASE"}, headers=clerk)
    assert [e["purchase"]["name"] for e in only.json()["entries"]] == [purchase["name"]]

    elsewhere = token("associate", store, associate_id="a-2")  # a colleague who does not hold her
    assert (await http.get(f"/v1/{customer}/timeline", headers=elsewhere)).status_code == 403
    assert (await http.get(f"/v1/{purchase['name']}", headers=elsewhere)).status_code == 403
    spec = (await http.get("/openapi.json")).json()
    assert "/v1/purchases:record" in spec["paths"]


async def test_demo_loads_purchases_and_interactions_idempotently(infra):
    """The demo loader (atelierctl) through a gateway in front of both services: purchases
    in several currencies and both sales channels, interactions, returns; loading the same
    seed again changes nothing."""
    import psycopg

    from atelierctl.demo import _load
    from services.associate.app import build as build_associate
    from services.customer.app import build as build_customer

    seed = uuid.uuid4().int % 10**6
    tag = f"demo{seed}"
    bus = infra.private_bus(tag)
    customer_service = await start_service(build_customer, infra.service_config(f"{tag}customer", **bus))
    associate_service = await start_service(build_associate, infra.service_config(f"{tag}associate", **bus))

    def mint(role: str, store: str = "", associate_id: str = "") -> str:
        return bearer(role, store, associate_id=associate_id)["authorization"].split(" ", 1)[1]

    async def counts():
        async with await psycopg.AsyncConnection.connect(customer_service.runtime.config.database_url) as conn:
            out = {}
            for table, column in (
                ("purchases", "order_id"),
                ("interactions", "external_id"),
                ("purchase_returns", "return_id"),
            ):
                cur = await conn.execute(f"SELECT count(*) FROM {table} WHERE {column} LIKE %s", (f"demo-{seed}-%",))
                out[table] = (await cur.fetchone())[0]
            cur = await conn.execute(
                "SELECT count(DISTINCT currency), count(DISTINCT channel) FROM purchases WHERE order_id LIKE %s",
                (f"demo-{seed}-%",),
            )
            out["currencies"], out["channels"] = await cur.fetchone()
            return out

    addresses = {"customer": customer_service.address, "associate": associate_service.address}
    try:
        async with running_gateway(addresses) as client:
            url = str(client.base_url).rstrip("/")
            loaded = await _load(url, mint, 12, seed, 4, lambda _: None)
            first = await counts()
            assert loaded.purchases > 0 and first["purchases"] > 0 and first["interactions"] > 0
            assert first["currencies"] > 1 and first["channels"] == 2
            await _load(url, mint, 12, seed, 4, lambda _: None)
            assert await counts() == first
    finally:
        await associate_service.runtime.stop()
        await customer_service.runtime.stop()
