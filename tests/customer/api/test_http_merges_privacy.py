"""The unary merge, duplicate and privacy RPCs over HTTP through the real gateway."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.conftest import bearer
from tests.customer.support import known_store


@pytest.fixture(scope="module")
async def http(http_base_url):
    async with httpx.AsyncClient(base_url=http_base_url, trust_env=False, timeout=15) as client:
        yield client


async def _create(http, store, **extra):
    body = {"givenName": "Mei", "familyName": "Wang" + uuid.uuid4().hex[:6], "homeStore": store, **extra}
    reply = await http.post("/v1/customers", json=body, headers=bearer("hq"))
    assert reply.status_code == 200, reply.text
    return reply.json()["name"]


async def test_merge_duplicates_export_erase_and_audit_over_http(customer_service, http):
    hq, store = bearer("hq"), await known_store(customer_service)
    phone = f"+3361{uuid.uuid4().int % 10**7:07d}"
    a = await _create(http, store, contactPoints=[{"kind": "CONTACT_KIND_PHONE", "value": phone}])
    b = await _create(http, store, contactPoints=[{"kind": "CONTACT_KIND_WHATSAPP", "value": phone}])

    found = await http.get("/v1/customers:findDuplicates", params={"customer": a}, headers=hq)
    assert found.status_code == 200, found.text
    assert found.json()["candidates"][0]["reasons"][0]["kind"] == "DUPLICATE_REASON_KIND_SAME_PHONE"

    denied = await http.post(f"/v1/{a}:merge", json={"duplicate": b}, headers=bearer("manager", store=store))
    assert denied.status_code == 403 and denied.json()["error"]["status"] == "PERMISSION_DENIED"
    merged = await http.post(f"/v1/{a}:merge", json={"duplicate": b}, headers=hq)
    assert merged.status_code == 200, merged.text
    merge = merged.json()["name"]
    assert (await http.get(f"/v1/{b}", headers=hq)).json()["name"] == a
    assert (await http.get(f"/v1/{merge}", headers=hq)).json()["duplicate"] == b
    undone = await http.post(f"/v1/{merge}:unmerge", json={}, headers=hq)
    assert undone.status_code == 200 and "undoTime" in undone.json()
    again = await http.post(f"/v1/{merge}:unmerge", json={}, headers=hq)
    assert again.status_code == 400 and again.json()["error"]["status"] == "FAILED_PRECONDITION"

    exported = await http.get(f"/v1/{a}:export", headers={**hq, "x-atelier-purpose": "subject access request"})
    assert exported.status_code == 200, exported.text
    assert json.loads(exported.json()["json"])["contact_points"][0]["value"] == phone
    trail = await http.get("/v1/auditRecords", params={"customer": a}, headers=hq)
    assert trail.json()["auditRecords"][0]["purpose"] == "subject access request"

    erased = await http.post(f"/v1/{a}:erase", json={"reason": "GDPR art. 17"}, headers=hq)
    assert erased.status_code == 200, erased.text
    assert (await http.get(f"/v1/{a}", headers=hq)).json().get("contactPoints", []) == []
    denied = await http.get(f"/v1/{b}:export", headers=bearer("associate", store=store))
    assert denied.status_code == 403
