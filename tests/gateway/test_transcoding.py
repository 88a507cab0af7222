"""Every route shape of the customer API, end to end: HTTP → gateway → real gRPC server."""

from __future__ import annotations

from atelier.common.v1 import common_pb2
from atelier.customer.v1 import customer_pb2
from servicekit.auth import PRINCIPAL_METADATA_KEY, Role, verify_internal_token
from tests.gateway.conftest import GATEWAY_INTERNAL_SECRET, auth


async def test_get_by_name(client, backend):
    response = await client.get("/v1/customers/c1", headers=auth())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    # lowerCamelCase out, enums by name, default-valued fields omitted.
    assert body == {
        "name": "customers/c1",
        "givenName": "Hélène",
        "familyName": "Laurent",
        "homeStore": "stores/paris",
        "tier": "TIER_VIP",
        "tags": ["press"],
    }
    call = backend.servicer.last("GetCustomer")
    assert call.request.name == "customers/c1"


async def test_principal_is_minted_from_the_bearer_token(client, backend):
    response = await client.get(
        "/v1/customers/c1",
        headers=auth(subject="staff/m-9", role="manager", associate_id="m-9", store="stores/milano"),
    )
    assert response.status_code == 200
    metadata = backend.servicer.last("GetCustomer").metadata
    principal = verify_internal_token(metadata[PRINCIPAL_METADATA_KEY], GATEWAY_INTERNAL_SECRET)
    assert principal.subject == "staff/m-9"
    assert principal.role is Role.MANAGER
    assert principal.store == "stores/milano"
    # The user's own JWT stays at the edge.
    assert "authorization" not in metadata


async def test_request_id_is_forwarded_and_echoed(client, backend):
    response = await client.get("/v1/customers/c1", headers={**auth(), "X-Request-Id": "req-42"})
    assert response.headers["x-request-id"] == "req-42"
    assert backend.servicer.last("GetCustomer").metadata["x-request-id"] == "req-42"

    response = await client.get("/v1/customers/c1", headers=auth())
    generated = response.headers["x-request-id"]
    assert len(generated) >= 16
    assert backend.servicer.last("GetCustomer").metadata["x-request-id"] == generated

    # Something unsafe to log or to put in metadata is replaced, not forwarded.
    response = await client.get("/v1/customers/c1", headers={**auth(), "X-Request-Id": "a b\tc"})
    assert response.headers["x-request-id"] != "a b\tc"


async def test_trace_context_is_forwarded(client, backend):
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    await client.get("/v1/customers/c1", headers={**auth(), "traceparent": traceparent})
    forwarded = backend.servicer.last("GetCustomer").metadata.get("traceparent", "")
    assert forwarded.split("-")[1] == "0af7651916cd43dd8448eb211c80319c"


async def test_list_with_query_parameters(client, backend):
    for i in range(3):
        backend.servicer.customers[f"customers/x{i}"] = customer_pb2.Customer(name=f"customers/x{i}")
    response = await client.get(
        "/v1/customers",
        params={"pageSize": "2", "filter": 'tier = TIER_VIP AND tags:"press"'},
        headers=auth(),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [c["name"] for c in body["customers"]] == ["customers/c1", "customers/x0"]
    assert body["nextPageToken"] == "next"
    request = backend.servicer.last("ListCustomers").request
    assert request.page_size == 2
    assert request.filter == 'tier = TIER_VIP AND tags:"press"'

    # Original proto names work as well as lowerCamelCase.
    response = await client.get("/v1/customers", params={"page_size": "1", "page_token": "abc"}, headers=auth())
    assert response.status_code == 200
    request = backend.servicer.last("ListCustomers").request
    assert (request.page_size, request.page_token) == (1, "abc")


async def test_empty_list_is_an_empty_object(client, backend):
    backend.servicer.customers.clear()
    response = await client.get("/v1/customers", headers=auth())
    assert response.status_code == 200
    assert response.json() == {}


async def test_post_with_body_field(client, backend):
    response = await client.post(
        "/v1/customers",
        params={"customerId": "c77", "request_id": "0b6f5a8e-4d0c-4a55-a1a4-0d6f7c39c0aa"},
        json={
            "givenName": "Mei",
            "family_name": "Chen",  # original field names are accepted too
            "tier": "TIER_CLIENT",
            "contactPoints": [{"kind": "CONTACT_KIND_EMAIL", "value": "mei@example.com", "primary": True}],
            "importantDates": [{"kind": 1, "date": {"year": 1990, "month": 5, "day": 17}}],
        },
        headers=auth(),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "customers/c77"
    assert body["familyName"] == "Chen"
    assert body["contactPoints"] == [{"kind": "CONTACT_KIND_EMAIL", "value": "mei@example.com", "primary": True}]
    assert body["importantDates"][0] == {
        "kind": "IMPORTANT_DATE_KIND_BIRTHDAY",
        "date": {"year": 1990, "month": 5, "day": 17},
    }
    assert body["createTime"].endswith("Z")
    request = backend.servicer.last("CreateCustomer").request
    assert request.customer_id == "c77"
    assert request.request_id == "0b6f5a8e-4d0c-4a55-a1a4-0d6f7c39c0aa"
    assert request.customer.tier == customer_pb2.TIER_CLIENT


async def test_patch_with_nested_path_field_and_update_mask(client, backend):
    response = await client.patch(
        "/v1/customers/c1",
        params={"updateMask": "givenName,home_store"},
        # The path names the resource; a different name in the body does not win.
        json={
            "name": "customers/other",
            "givenName": "Héloïse",
            "homeStore": "stores/lyon",
            "familyName": "ignored",
        },
        headers=auth(),
    )
    assert response.status_code == 200, response.text
    request = backend.servicer.last("UpdateCustomer").request
    assert request.customer.name == "customers/c1"
    assert list(request.update_mask.paths) == ["given_name", "home_store"]
    body = response.json()
    assert body["givenName"] == "Héloïse"
    assert body["homeStore"] == "stores/lyon"
    assert body["familyName"] == "Laurent"


async def test_delete(client, backend):
    response = await client.delete("/v1/customers/c1", params={"etag": "W/1"}, headers=auth())
    assert response.status_code == 200, response.text
    assert response.json() == {}
    request = backend.servicer.last("DeleteCustomer").request
    assert (request.name, request.etag) == ("customers/c1", "W/1")
    assert "customers/c1" not in backend.servicer.customers


async def test_custom_verb_with_body_star(client, backend):
    response = await client.post(
        "/v1/customers/c1:grantConsent",
        json={"channel": "CHANNEL_WHATSAPP", "purpose": 1, "source": "store-tablet"},
        headers=auth(),
    )
    assert response.status_code == 200, response.text
    request = backend.servicer.last("GrantConsent").request
    assert request.name == "customers/c1"
    assert request.channel == common_pb2.CHANNEL_WHATSAPP
    assert request.purpose == common_pb2.PURPOSE_MARKETING
    assert response.json()["consents"] == [
        {
            "channel": "CHANNEL_WHATSAPP",
            "purpose": "PURPOSE_MARKETING",
            "granted": True,
            "source": "store-tablet",
        }
    ]


async def test_custom_verb_is_not_swallowed_by_the_resource_route(client, backend):
    response = await client.get("/v1/customers:search", params={"query": "laur"}, headers=auth())
    assert response.status_code == 200, response.text
    assert backend.servicer.last("SearchCustomers").request.query == "laur"
    assert response.json()["results"][0]["customer"]["name"] == "customers/c1"
    assert not [c for c in backend.servicer.calls if c.method == "GetCustomer"]


async def test_sub_collection_routes(client, backend):
    created = await client.post("/v1/customers/c1/notes", json={"text": "Prefers rose gold."}, headers=auth())
    assert created.status_code == 200, created.text
    assert created.json() == {"name": "customers/c1/notes/n1", "text": "Prefers rose gold."}
    assert backend.servicer.last("CreateNote").request.parent == "customers/c1"

    listed = await client.get("/v1/customers/c1/notes", params={"pageSize": 10}, headers=auth())
    assert listed.status_code == 200
    assert listed.json()["notes"][0]["text"] == "Prefers rose gold."
    assert backend.servicer.last("ListNotes").request.page_size == 10


async def test_percent_encoded_segment_is_decoded(client, backend):
    backend.servicer.customers["customers/a b:c"] = customer_pb2.Customer(name="customers/a b:c")
    response = await client.get("/v1/customers/a%20b%3Ac", headers=auth())
    assert response.status_code == 200, response.text
    assert backend.servicer.last("GetCustomer").request.name == "customers/a b:c"


async def test_unknown_route_and_wrong_method(client):
    response = await client.get("/v1/nothing-here", headers=auth())
    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"

    # A `*` never spans two segments.
    response = await client.get("/v1/customers/c1/extra", headers=auth())
    assert response.status_code == 404

    response = await client.put("/v1/customers/c1", json={}, headers=auth())
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "PATCH", "DELETE"}
    assert response.json()["error"]["code"] == 405
