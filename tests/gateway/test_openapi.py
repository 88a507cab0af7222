"""/openapi.json and /docs come from the same descriptors and rules as the routes."""

from __future__ import annotations

import re

from google.api import annotations_pb2

from atelier.customer.v1 import customer_service_pb2
from tests.gateway.conftest import auth

SERVICE = customer_service_pb2.DESCRIPTOR.services_by_name["CustomerService"]

EXPECTED = {
    ("get", "/v1/customers/{customer}"): "CustomerService_GetCustomer",
    ("get", "/v1/customers"): "CustomerService_ListCustomers",
    ("post", "/v1/customers"): "CustomerService_CreateCustomer",
    ("patch", "/v1/customers/{customer}"): "CustomerService_UpdateCustomer",
    ("delete", "/v1/customers/{customer}"): "CustomerService_DeleteCustomer",
    ("get", "/v1/customers:search"): "CustomerService_SearchCustomers",
    ("post", "/v1/customers/{customer}:grantConsent"): "CustomerService_GrantConsent",
    ("post", "/v1/customers/{customer}:withdrawConsent"): "CustomerService_WithdrawConsent",
    ("get", "/v1/customers/{customer}/consentChanges"): "CustomerService_ListConsentChanges",
    ("post", "/v1/customers/{customer}/notes"): "CustomerService_CreateNote",
    ("get", "/v1/customers/{customer}/notes"): "CustomerService_ListNotes",
}


def without_description(schema: dict) -> dict:
    return {k: v for k, v in schema.items() if k != "description"}


async def spec(client) -> dict:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    return response.json()


async def test_every_annotated_rpc_is_an_operation(client):
    document = await spec(client)
    assert document["openapi"] == "3.1.0"
    found = {
        (verb, path): op["operationId"]
        for path, item in document["paths"].items()
        for verb, op in item.items()
        if op["operationId"].startswith("CustomerService_")
    }
    # The routes this file pins down keep their shape; RPCs added later join them.
    assert EXPECTED.items() <= found.items()
    annotated = {
        f"CustomerService_{m.name}"
        for m in SERVICE.methods
        if m.GetOptions().HasExtension(annotations_pb2.http)
        and not (m.client_streaming or m.server_streaming)  # not transcoded
    }
    assert set(found.values()) == annotated


async def test_operations_are_routable_as_documented(client, backend):
    """Each documented path, filled in, reaches the RPC the document names."""
    document = await spec(client)
    bodies = {
        "CustomerService_GrantConsent": {
            "channel": "CHANNEL_SMS",
            "purpose": "PURPOSE_SERVICE",
            "source": "web",
        },
        "CustomerService_WithdrawConsent": {
            "channel": "CHANNEL_SMS",
            "purpose": "PURPOSE_SERVICE",
            "source": "web",
        },
        "CustomerService_CreateNote": {"text": "hi"},
    }
    for path, item in document["paths"].items():
        for verb, op in item.items():
            url = re.sub(r"\{[^}]+\}", "c1", path)
            params = {"updateMask": "givenName"} if op["operationId"].endswith("UpdateCustomer") else {}
            response = await client.request(
                verb.upper(),
                url,
                params=params,
                json=bodies.get(op["operationId"], {}) if "requestBody" in op else None,
                headers=auth(),
            )
            if response.status_code == 501:
                # The test double leaves a few RPCs unimplemented; the route still reached it.
                assert response.json()["error"]["status"] == "UNIMPLEMENTED"
            else:
                assert response.status_code in (200, 404), (verb, url, response.text)
            rpc = op["operationId"].split("_", 1)[1]
            if response.status_code != 501:
                assert backend.servicer.calls[-1].method == rpc
            backend.servicer.reset()


async def test_parameters_bodies_and_responses(client):
    document = await spec(client)
    paths = document["paths"]

    get = paths["/v1/customers/{customer}"]["get"]
    assert [(p["name"], p["in"], p["required"]) for p in get["parameters"]] == [("customer", "path", True)]
    assert get["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/atelier.customer.v1.Customer"
    }
    assert get["responses"]["default"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }

    listing = paths["/v1/customers"]["get"]
    assert [p["name"] for p in listing["parameters"]] == ["pageSize", "pageToken", "filter"]
    assert listing["parameters"][0]["schema"] == {"type": "integer", "format": "int32"}

    create = paths["/v1/customers"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/atelier.customer.v1.Customer"
    }
    assert {p["name"] for p in create["parameters"]} == {"customerId", "requestId"}

    update = paths["/v1/customers/{customer}"]["patch"]
    mask = next(p for p in update["parameters"] if p["name"] == "updateMask")
    assert mask["in"] == "query" and mask["schema"]["type"] == "string"

    delete = paths["/v1/customers/{customer}"]["delete"]
    assert delete["responses"]["200"]["content"]["application/json"]["schema"] == {"type": "object"}

    grant = paths["/v1/customers/{customer}:grantConsent"]["post"]
    assert grant["summary"] == "Grant consent"
    body = grant["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {"channel", "purpose", "source"}  # `name` is in the path
    assert grant["parameters"] == [
        {
            "name": "customer",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": "The `{customer}` segment of `name` (`customers/*`).",
        }
    ]


async def test_component_schemas(client):
    document = await spec(client)
    schemas = document["components"]["schemas"]
    customer = schemas["atelier.customer.v1.Customer"]
    assert customer["type"] == "object"
    props = {name: without_description(p) for name, p in customer["properties"].items()}
    assert props["givenName"] == {"type": "string"}
    assert props["tier"] == {"$ref": "#/components/schemas/atelier.customer.v1.Tier"}
    assert props["contactPoints"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/atelier.customer.v1.ContactPoint"},
    }
    assert props["createTime"]["format"] == "date-time" and props["createTime"]["readOnly"] is True
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert without_description(schemas["atelier.customer.v1.Tier"]) == {
        "type": "string",
        "title": "Tier",
        "enum": ["TIER_UNSPECIFIED", "TIER_PROSPECT", "TIER_CLIENT", "TIER_VIP", "TIER_VVIP"],
    }
    assert schemas["atelier.customer.v1.ContactPoint"]["required"] == ["kind", "value"]
    assert set(schemas["google.type.Date"]["properties"]) == {"year", "month", "day"}
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert document["security"] == [{"bearer": []}]

    # Every reference resolves.
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', (await client.get("/openapi.json")).text))
    assert refs and refs <= set(schemas)


async def test_path_parameters_match_their_paths(client):
    document = await spec(client)
    for path, item in document["paths"].items():
        placeholders = set(re.findall(r"\{([^}]+)\}", path))
        for op in item.values():
            assert {p["name"] for p in op["parameters"] if p["in"] == "path"} == placeholders, path


async def test_docs_page(client):
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert html.startswith("<!doctype html>")
    for (_verb, path), op_id in EXPECTED.items():
        assert path in html
        assert f'id="op-{op_id}"' in html
    assert "atelier.customer.v1.Customer" in html
    # Self-contained: nothing fetched from elsewhere.
    assert not re.search(r'<(script|link|img)\b[^>]*(src|href)="https?:', html)
    assert "<script" not in html


async def test_descriptions_come_from_proto_comments(client):
    """In a checkout (protos/ and grpc-tools present) comments are compiled in at start."""
    document = await spec(client)
    search = document["paths"]["/v1/customers:search"]["get"]
    assert search["description"].startswith("Finds customers by any fragment of a name")
    query = next(p for p in search["parameters"] if p["name"] == "query")
    assert query["description"] == "A fragment of a name, e-mail or phone number; at least 2 characters."
    assert query["required"] is True  # REQUIRED field behaviour
    schemas = document["components"]["schemas"]
    assert schemas["atelier.customer.v1.Customer"]["description"].startswith("A person the brand serves.")
    assert schemas["atelier.customer.v1.Customer"]["properties"]["consents"]["description"].endswith("Output only.")
    assert "- `CHANNEL_PHONE`: Voice calls from the boutique." in schemas["atelier.common.v1.Channel"]["description"]
    html = (await client.get("/docs")).text
    assert "Voice calls from the boutique." in html


def test_comments_from_a_descriptor_set(tmp_path):
    import pytest
    from google.protobuf import descriptor_pb2

    from gateway.comments import comments_from_set, load_comments
    from servicekit.config import ConfigError

    fds = descriptor_pb2.FileDescriptorSet()
    f = fds.file.add(name="x.proto", package="acme.v1")
    m = f.message_type.add(name="Thing")
    m.field.add(name="colour", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING)
    f.service.add(name="ThingService").method.add(name="GetThing")
    for path, text in [
        ((4, 0), " A thing.\n Wrapped line.\n"),
        ((4, 0, 2, 0), " Its colour.\n"),
        ((6, 0, 2, 0), " Gets one.\n"),
    ]:
        f.source_code_info.location.add(path=list(path), leading_comments=text)
    assert comments_from_set(fds) == {
        "acme.v1.Thing": "A thing. Wrapped line.",
        "acme.v1.Thing.colour": "Its colour.",
        "acme.v1.ThingService.GetThing": "Gets one.",
    }
    path = tmp_path / "set.binpb"
    path.write_bytes(fds.SerializeToString())
    assert load_comments(str(path))["acme.v1.Thing.colour"] == "Its colour."
    with pytest.raises(ConfigError, match="ATELIER_DESCRIPTOR_SET"):
        load_comments(str(tmp_path / "missing.binpb"))
