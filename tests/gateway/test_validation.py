"""Requests the gateway refuses itself, in the same error shape the services use."""

from __future__ import annotations

from tests.gateway.conftest import auth

BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"


def violations(response) -> dict[str, str]:
    error = response.json()["error"]
    assert error["code"] == 400
    assert error["status"] == "INVALID_ARGUMENT"
    found = [d for d in error["details"] if d["@type"] == BAD_REQUEST_TYPE]
    assert found, error
    return {v["field"]: v["description"] for v in found[0]["fieldViolations"]}


async def test_unknown_json_field_is_named(client, backend):
    response = await client.post(
        "/v1/customers",
        json={
            "givenName": "Mei",
            "nickName": "M",
            "contactPoints": [{"kind": "CONTACT_KIND_EMAIL", "valu": "x"}],
        },
        headers=auth(),
    )
    assert response.status_code == 400
    found = violations(response)
    # Every offending field at once, by its path in the request message.
    assert set(found) == {"customer.nickName", "customer.contact_points[0].valu"}
    assert "nickName" in found["customer.nickName"]
    assert "customer.nickName" in response.json()["error"]["message"]
    assert not [c for c in backend.servicer.calls if c.method == "CreateCustomer"]


async def test_unknown_field_in_body_star(client):
    response = await client.post(
        "/v1/customers/c1:grantConsent",
        json={"channel": "CHANNEL_SMS", "purpose": "PURPOSE_SERVICE", "source": "web", "why": "because"},
        headers=auth(),
    )
    assert response.status_code == 400
    assert set(violations(response)) == {"why"}


async def test_bad_enum_value(client, backend):
    response = await client.post("/v1/customers", json={"tier": "TIER_GOLD"}, headers=auth())
    assert response.status_code == 400
    found = violations(response)
    assert set(found) == {"customer.tier"}
    assert "TIER_VIP" in found["customer.tier"]  # says what would have been accepted

    response = await client.post(
        "/v1/customers/c1:grantConsent", json={"channel": 99, "purpose": 1, "source": "web"}, headers=auth()
    )
    assert response.status_code == 400
    assert set(violations(response)) == {"channel"}
    assert not [c for c in backend.servicer.calls if c.method in ("CreateCustomer", "GrantConsent")]


async def test_wrong_json_types(client):
    response = await client.post(
        "/v1/customers",
        json={
            "givenName": 3,
            "tags": "press",
            "contactPoints": [{"primary": "yes"}],
            "createTime": "yesterday",
        },
        headers=auth(),
    )
    assert response.status_code == 400
    assert set(violations(response)) == {
        "customer.given_name",
        "customer.tags",
        "customer.contact_points[0].primary",
        "customer.create_time",
    }


async def test_same_field_under_both_names(client):
    response = await client.post("/v1/customers", json={"givenName": "a", "given_name": "b"}, headers=auth())
    assert response.status_code == 400
    assert set(violations(response)) == {"customer.given_name"}


async def test_a_member_named_twice_is_refused_at_any_depth(client, backend):
    headers = {**auth(), "Content-Type": "application/json"}
    response = await client.post(
        "/v1/customers", content=b'{"givenName":"Alice","givenName":"Mallory"}', headers=headers
    )
    assert response.status_code == 400
    assert set(violations(response)) == {"customer.givenName"}
    nested = b'{"givenName":"A","contactPoints":[{"kind":"CONTACT_KIND_EMAIL","value":"a@x","value":"b@x"}]}'
    response = await client.post("/v1/customers", content=nested, headers=headers)
    assert set(violations(response)) == {"customer.contact_points[0].value"}
    assert not [c for c in backend.servicer.calls if c.method == "CreateCustomer"]


async def test_invalid_json(client):
    response = await client.post(
        "/v1/customers", content=b'{"givenName": ', headers={**auth(), "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    found = violations(response)
    assert list(found) == ["customer"]
    assert "not valid JSON" in found["customer"]


async def test_body_must_be_an_object(client):
    response = await client.post("/v1/customers/c1:grantConsent", json=["CHANNEL_SMS"], headers=auth())
    assert response.status_code == 400
    assert list(violations(response)) == ["body"]


async def test_unknown_query_parameter(client, backend):
    response = await client.get("/v1/customers", params={"pageSize": "5", "colour": "red"}, headers=auth())
    assert response.status_code == 400
    assert set(violations(response)) == {"colour"}
    assert not [c for c in backend.servicer.calls if c.method == "ListCustomers"]


async def test_bad_query_values(client):
    response = await client.get(
        "/v1/customers", params=[("pageSize", "many"), ("filter", "a"), ("filter", "b")], headers=auth()
    )
    assert response.status_code == 400
    found = violations(response)
    assert set(found) == {"pageSize", "filter"}
    assert "integer" in found["pageSize"]

    response = await client.get("/v1/customers", params={"pageSize": str(2**31)}, headers=auth())
    assert "out of range" in violations(response)["pageSize"]


async def test_query_cannot_override_path_or_body(client):
    response = await client.get("/v1/customers/c1", params={"name": "customers/c2"}, headers=auth())
    assert response.status_code == 400
    assert "path" in violations(response)["name"]

    response = await client.patch(
        "/v1/customers/c1",
        params={"updateMask": "tier", "customer.tier": "TIER_VIP"},
        json={},
        headers=auth(),
    )
    assert response.status_code == 400
    assert "body" in violations(response)["customer.tier"]

    response = await client.post(
        "/v1/customers/c1:grantConsent",
        params={"source": "web"},
        json={"channel": "CHANNEL_SMS", "purpose": 1},
        headers=auth(),
    )
    assert response.status_code == 400
    assert "body" in violations(response)["source"]


async def test_one_field_under_two_query_spellings(client):
    response = await client.get("/v1/customers", params=[("pageSize", "1"), ("page_size", "2")], headers=auth())
    assert response.status_code == 400
    assert "more than once" in violations(response)["pageSize"]
