"""Issue 8, items 12 and 15 at the edge, over real HTTP: a NUL character in any string (a
JSON string at any depth, a query parameter, a path segment) and any control character in
a resource name of the URL (`customers/c1%0A`) are answered 400 naming the field, never
500, and no service is called."""

from __future__ import annotations

import pytest

from gateway.transcode import NUL_PROBLEM
from tests.gateway.conftest import auth

NUL = "\u0000"


def field_violations(response) -> dict[str, str]:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT"
    (bad_request,) = [d for d in error["details"] if d["@type"] == "type.googleapis.com/google.rpc.BadRequest"]
    return {v["field"]: v["description"] for v in bad_request["fieldViolations"]}


async def test_nul_in_body_strings_at_any_depth_is_named(live, backend):
    body = {
        "givenName": f"Ann{NUL}",
        "contactPoints": [
            {"kind": "CONTACT_KIND_EMAIL", "value": "ann@example.com"},
            {"kind": "CONTACT_KIND_PHONE", "value": f"+33{NUL}612345678"},
        ],
        "tags": ["vip", NUL],
        "preferences": [{"category": "ring_size", "value": f"52{NUL}"}],
        "tier": f"TIER_VIP{NUL}",
    }
    response = await live.post("/v1/customers", json=body, headers=auth())
    assert field_violations(response) == {
        "customer.given_name": NUL_PROBLEM,
        "customer.contact_points[1].value": NUL_PROBLEM,
        "customer.tags[1]": NUL_PROBLEM,
        "customer.preferences[0].value": NUL_PROBLEM,
        "customer.tier": NUL_PROBLEM,
    }
    assert backend.servicer.calls == []


@pytest.mark.parametrize(
    "method, path, body, field",
    [
        ("POST", "/v1/customers/c1/notes", {"text": f"prefers{NUL}emeralds"}, "note.text"),
        (
            "POST",
            "/v1/customers/c1:grantConsent",
            {"channel": "CHANNEL_EMAIL", "purpose": "PURPOSE_MARKETING", "source": f"tablet{NUL}"},
            "source",
        ),
        ("PATCH", "/v1/customers/c1?updateMask=familyName", {"familyName": f"{NUL}"}, "customer.family_name"),
    ],
    ids=["body-field", "body-star", "patch"],
)
async def test_nul_in_the_body_of_every_body_shape(live, backend, method, path, body, field):
    response = await live.request(method, path, json=body, headers=auth())
    assert field_violations(response) == {field: NUL_PROBLEM}
    assert backend.servicer.calls == []


async def test_nul_in_query_parameters_is_named(live, backend):
    response = await live.get("/v1/customers:search", params={"query": f"Ann{NUL}"}, headers=auth())
    assert field_violations(response) == {"query": NUL_PROBLEM}
    response = await live.get(
        "/v1/customers", params={"filter": f'home_store = "stores/paris{NUL}"', "pageSize": "5"}, headers=auth()
    )
    assert field_violations(response) == {"filter": NUL_PROBLEM}
    # Percent-encoded by hand, as an attacker would send it.
    response = await live.get("/v1/customers?updateMask=x&page_token=abc%00def", headers=auth())
    violations = field_violations(response)
    assert violations["page_token"] == NUL_PROBLEM
    assert backend.servicer.calls == []


@pytest.mark.parametrize(
    "method, path, field, character",
    [
        ("GET", "/v1/customers/c1%00", "name", "a NUL character (U+0000)"),
        ("GET", "/v1/customers/c1%0A", "name", "a newline (U+000A)"),
        ("GET", "/v1/customers/c1%0a", "name", "a newline (U+000A)"),
        ("GET", "/v1/customers/c1%0D", "name", "a carriage return (U+000D)"),
        ("GET", "/v1/customers/%0Ac1", "name", "a newline (U+000A)"),
        ("DELETE", "/v1/customers/c1%0A", "name", "a newline (U+000A)"),
        ("GET", "/v1/customers/c1%0A/notes", "parent", "a newline (U+000A)"),
        ("POST", "/v1/customers/c1%0A:grantConsent", "name", "a newline (U+000A)"),
        ("PATCH", "/v1/customers/c1%1F?updateMask=tier", "customer.name", "a control character (U+001F)"),
    ],
)
async def test_control_characters_in_resource_names_of_the_url(live, backend, method, path, field, character):
    body = {} if method in ("POST", "PATCH") else None
    response = await live.request(method, path, json=body, headers=auth())
    assert field_violations(response) == {field: f"a resource name must not contain {character}"}
    assert backend.servicer.calls == []


async def test_the_same_requests_without_the_character_reach_the_service(live, backend):
    """The checks reject only what they name: newlines and tabs in free text are fine."""
    note = await live.post("/v1/customers/c1/notes", json={"text": "line one\nline\ttwo"}, headers=auth())
    assert note.status_code == 200, note.text
    assert backend.servicer.last("CreateNote").request.note.text == "line one\nline\ttwo"
    found = await live.get("/v1/customers/c1", headers=auth())
    assert found.status_code == 200
    assert backend.servicer.last("GetCustomer").request.name == "customers/c1"


@pytest.mark.parametrize("path", ["/v1/customers/%0Ac1", "/v1/customers/%0A/", "/v1/%0A%0A", "/%0A"])
async def test_every_path_is_answered_in_the_json_error_shape(live, path):
    """Newlines inside a path once fell through to a plain-text 404 (or a slash redirect)."""
    response = await live.get(path, headers=auth(), follow_redirects=False)
    assert response.status_code in (400, 404), response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["status"] in ("INVALID_ARGUMENT", "NOT_FOUND")
    assert (await live.get(path)).status_code == 401  # and credentials still come first


async def test_public_endpoints_with_another_verb_reach_the_transcoder(live):
    response = await live.post("/healthz")
    assert response.status_code == 401 and response.json()["error"]["status"] == "UNAUTHENTICATED"
    response = await live.post("/healthz", headers=auth())
    assert response.status_code == 404 and response.json()["error"]["status"] == "NOT_FOUND"
