"""The mesh over HTTP: a real uvicorn gateway in front of the real customer service
(real PostgreSQL and NATS), driven by httpx over the loopback — every customer RPC's happy
path, validation errors naming the field, and authorisation denials per role."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import bearer
from tests.customer.support import known_store


def token(role: str, store: str = "", associate_id: str = "") -> dict[str, str]:
    return bearer(role, store=store, associate_id=associate_id)


@pytest.fixture(scope="module")
async def http(http_base_url):
    async with httpx.AsyncClient(base_url=http_base_url, trust_env=False, timeout=15) as client:
        yield client


@pytest.fixture
def new_store(customer_service):
    """A new store the customer service knows (its store_created event applied), as the
    associate service would have announced it."""

    async def make() -> str:
        return await known_store(customer_service, f"stores/e2e-{uuid.uuid4().hex[:8]}")

    return make


def _phone() -> str:
    return f"+3361{uuid.uuid4().int % 10**7:07d}"


async def test_round_trip_create_get_list_search_update_consent_notes_delete(http, new_store):
    hq, store = token("hq"), await new_store()
    body = {
        "givenName": "Hélène",
        "familyName": "Laurent" + uuid.uuid4().hex[:6],
        "locale": "fr-FR",
        "homeStore": store,
        "tier": "TIER_CLIENT",
        "contactPoints": [
            {"kind": "CONTACT_KIND_PHONE", "value": _phone()},
            {"kind": "CONTACT_KIND_EMAIL", "value": f"Helene.{uuid.uuid4().hex[:6]}@Example.com"},
        ],
        "preferences": [{"category": "ring_size", "value": "52"}],
        "importantDates": [{"kind": "IMPORTANT_DATE_KIND_BIRTHDAY", "date": {"year": 1984, "month": 2, "day": 29}}],
        "tags": ["press"],
    }
    created = await http.post("/v1/customers", json=body, params={"request_id": str(uuid.uuid4())}, headers=hq)
    assert created.status_code == 200, created.text
    customer = created.json()
    name = customer["name"]
    assert customer["contactPoints"][1]["value"].islower() and customer["etag"]

    got = await http.get(f"/v1/{name}", headers=hq)
    assert got.status_code == 200 and got.json() == customer

    listed = await http.get("/v1/customers", params={"filter": f'home_store = "{store}"', "page_size": 10}, headers=hq)
    assert [c["name"] for c in listed.json()["customers"]] == [name]

    found = await http.get("/v1/customers:search", params={"query": body["familyName"][:9]}, headers=hq)
    assert found.json()["results"][0]["customer"]["name"] == name

    patched = await http.patch(
        f"/v1/{name}",
        params={"update_mask": "tier,tags"},
        json={"tier": "TIER_VIP", "tags": ["press", "collector"], "etag": customer["etag"]},
        headers=hq,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["tier"] == "TIER_VIP" and patched.json()["etag"] != customer["etag"]
    stale = await http.patch(
        f"/v1/{name}", params={"update_mask": "tier"}, json={"tier": "TIER_VVIP", "etag": customer["etag"]}, headers=hq
    )
    assert stale.status_code == 409 and stale.json()["error"]["status"] == "ABORTED"

    consent = {"channel": "CHANNEL_WHATSAPP", "purpose": "PURPOSE_MARKETING", "source": "store-tablet"}
    granted = await http.post(f"/v1/{name}:grantConsent", json=consent, headers=hq)
    assert granted.json()["consents"][0]["granted"] is True
    withdrawn = await http.post(f"/v1/{name}:withdrawConsent", json=consent, headers=hq)
    assert withdrawn.json()["consents"][0].get("granted", False) is False
    history = await http.get(f"/v1/{name}/consentChanges", headers=hq)
    assert [c.get("granted", False) for c in history.json()["consentChanges"]] == [False, True]

    note = await http.post(
        f"/v1/{name}/notes", json={"text": "Prefers emeralds; visit before Lunar New Year"}, headers=hq
    )
    assert note.status_code == 200 and note.json()["name"].startswith(f"{name}/notes/")
    notes = await http.get(f"/v1/{name}/notes", headers=hq)
    assert [n["text"] for n in notes.json()["notes"]] == ["Prefers emeralds; visit before Lunar New Year"]

    deleted = await http.delete(f"/v1/{name}", headers=hq)
    assert deleted.status_code == 200
    assert (await http.get(f"/v1/{name}", headers=hq)).status_code == 404


async def test_validation_errors_name_the_field_and_change_nothing(http, new_store):
    hq, store = token("hq"), await new_store()
    bad = await http.post(
        "/v1/customers",
        json={
            "givenName": "Anna",
            "homeStore": store,
            "contactPoints": [{"kind": "CONTACT_KIND_PHONE", "value": "12"}],
            "locale": "not a locale",
        },
        headers=hq,
    )
    assert bad.status_code == 400
    violations = next(d for d in bad.json()["error"]["details"] if d["@type"].endswith("BadRequest"))["fieldViolations"]
    assert {v["field"] for v in violations} == {"customer.contact_points[0].value", "customer.locale"}
    unknown = await http.post("/v1/customers", json={"givenName": "Anna", "shoeSize": 38}, headers=hq)
    assert unknown.status_code == 400 and "shoeSize" in unknown.text
    listed = await http.get("/v1/customers", params={"filter": f'home_store = "{store}"'}, headers=hq)
    assert listed.json().get("customers", []) == []


async def test_duplicate_contact_point_is_409_naming_the_owner(http):
    hq, phone = token("hq"), _phone()
    first = await http.post(
        "/v1/customers",
        json={"givenName": "A", "contactPoints": [{"kind": "CONTACT_KIND_PHONE", "value": phone}]},
        headers=hq,
    )
    second = await http.post(
        "/v1/customers",
        json={
            "givenName": "B",
            "contactPoints": [
                {"kind": "CONTACT_KIND_WHATSAPP", "value": phone},
                {"kind": "CONTACT_KIND_PHONE", "value": phone},
            ],
        },
        headers=hq,
    )
    assert second.status_code == 409
    info = next(d for d in second.json()["error"]["details"] if d["@type"].endswith("ErrorInfo"))
    assert info["metadata"]["existing_customer"] == first.json()["name"]


async def test_roles_are_enforced_by_the_service_over_http(http, new_store):
    paris, milan = await new_store(), await new_store()
    hq = token("hq")
    in_milan = (await http.post("/v1/customers", json={"givenName": "Giulia", "homeStore": milan}, headers=hq)).json()
    associate = token("associate", store=paris, associate_id=f"a-{uuid.uuid4().hex[:8]}")
    manager = token("manager", store=paris)

    assert (await http.get(f"/v1/{in_milan['name']}", headers=associate)).status_code == 403
    assert (await http.get(f"/v1/{in_milan['name']}", headers=manager)).status_code == 403
    assert (await http.delete(f"/v1/{in_milan['name']}", headers=manager)).status_code == 403
    other_store = await http.post("/v1/customers", json={"givenName": "X", "homeStore": milan}, headers=associate)
    assert other_store.status_code == 403
    mine = await http.post("/v1/customers", json={"givenName": "Camille"}, headers=associate)
    assert mine.status_code == 200 and mine.json()["homeStore"] == paris
    assert (await http.delete(f"/v1/{mine.json()['name']}", headers=associate)).status_code == 403
    # An associate lists the customers she holds: the one she just created.
    listed = await http.get("/v1/customers", headers=associate)
    assert [c["name"] for c in listed.json()["customers"]] == [mine.json()["name"]]
    assert (await http.get("/v1/customers")).status_code == 401
    assert (await http.delete(f"/v1/{mine.json()['name']}", headers=manager)).status_code == 200


async def test_health_and_openapi(http):
    health = await http.get("/healthz")
    assert health.status_code == 200 and health.json()["services"] == {"customer": "SERVING"}
    spec = (await http.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    assert any(path.endswith(":search") for path in spec["paths"])
    docs = await http.get("/docs")
    assert docs.status_code == 200 and "SearchCustomers" in docs.text


async def test_nul_and_newline_ids_are_400_before_the_service(http):
    """Issue 8, items 12 and 15 against the real customer service: a NUL anywhere is 400
    naming the field, and an existing customer's name with a newline appended is not her."""
    hq = token("hq")
    created = await http.post("/v1/customers", json={"givenName": "Nadia"}, headers=hq)
    assert created.status_code == 200, created.text
    name = created.json()["name"]

    def fields(response: httpx.Response) -> set[str]:
        assert response.status_code == 400, response.text
        details = response.json()["error"]["details"]
        violations = next(d for d in details if d["@type"].endswith("BadRequest"))["fieldViolations"]
        return {v["field"] for v in violations}

    bad = await http.post(
        "/v1/customers",
        json={
            "givenName": "Ann\u0000",
            "contactPoints": [{"kind": "CONTACT_KIND_EMAIL", "value": "a\u0000@example.com"}],
        },
        headers=hq,
    )
    assert fields(bad) == {"customer.given_name", "customer.contact_points[0].value"}
    assert fields(await http.get("/v1/customers:search", params={"query": "Na\u0000"}, headers=hq)) == {"query"}
    note = await http.post(f"/v1/{name}/notes", json={"text": "x\u0000"}, headers=hq)
    assert fields(note) == {"note.text"}
    for suffix in ("%0A", "%0D%0A", "%00"):
        assert fields(await http.get(f"/v1/{name}{suffix}", headers=hq)) == {"name"}
        assert fields(await http.post(f"/v1/{name}{suffix}/notes", json={"text": "t"}, headers=hq)) == {"parent"}
    assert (await http.get(f"/v1/{name}", headers=hq)).status_code == 200
