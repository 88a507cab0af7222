"""gRPC status → HTTP status and Google's JSON error shape, rich details passed through."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import code_pb2, status_pb2

from gateway import create_app
from gateway.errors import error_body, http_status
from tests.gateway.conftest import auth, make_settings, serve, unused_address


async def test_invalid_argument_passes_field_violations_through(client):
    response = await client.post(
        "/v1/customers",
        json={
            "contactPoints": [
                {"kind": "CONTACT_KIND_PHONE", "value": "+33612345678"},
                {"kind": "CONTACT_KIND_EMAIL", "value": "nope"},
            ]
        },
        headers=auth(),
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"] == "invalid request: customer.contact_points[1].value"
    by_type = {d["@type"]: d for d in error["details"]}
    assert by_type["type.googleapis.com/google.rpc.BadRequest"]["fieldViolations"] == [
        {"field": "customer.contact_points[1].value", "description": "not a valid e-mail address"}
    ]
    assert by_type["type.googleapis.com/google.rpc.ErrorInfo"] == {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "INVALID_ARGUMENT",
        "domain": "atelier.dev",
    }


async def test_not_found(client):
    response = await client.get("/v1/customers/ghost", headers=auth())
    assert response.status_code == 404
    error = response.json()["error"]
    assert error == {
        "code": 404,
        "status": "NOT_FOUND",
        "message": "customers/ghost not found",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "NOT_FOUND",
                "domain": "atelier.dev",
                "metadata": {"resource": "customers/ghost"},
            }
        ],
    }


async def test_already_exists(client):
    response = await client.post(
        "/v1/customers", params={"customerId": "c1"}, json={"givenName": "Twin"}, headers=auth()
    )
    assert response.status_code == 409
    assert response.json()["error"]["status"] == "ALREADY_EXISTS"


async def test_permission_denied_rich_and_plain(client):
    response = await client.get("/v1/customers/forbidden", headers=auth())
    assert response.status_code == 403
    assert response.json()["error"]["details"][0]["reason"] == "PERMISSION_DENIED"

    response = await client.get("/v1/customers/plain-denied", headers=auth())
    assert response.status_code == 403
    assert response.json() == {"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "no rich details here"}}


async def test_deadline_exceeded(make_client):
    http = await make_client(deadline_seconds=0.2)
    response = await http.get("/v1/customers/slow", headers=auth())
    assert response.status_code == 504
    assert response.json()["error"]["status"] == "DEADLINE_EXCEEDED"


async def test_backend_unreachable(make_client):
    http = await make_client({"customer": unused_address()})
    response = await http.get("/v1/customers/c1", headers=auth())
    assert response.status_code == 503
    assert response.json()["error"]["status"] == "UNAVAILABLE"


@pytest.mark.parametrize(
    "code, expected",
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
        (grpc.StatusCode.FAILED_PRECONDITION, 400),
        (grpc.StatusCode.OUT_OF_RANGE, 400),
        (grpc.StatusCode.UNAUTHENTICATED, 401),
        (grpc.StatusCode.PERMISSION_DENIED, 403),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.ALREADY_EXISTS, 409),
        (grpc.StatusCode.ABORTED, 409),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.CANCELLED, 499),
        (grpc.StatusCode.UNIMPLEMENTED, 501),
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
        (grpc.StatusCode.INTERNAL, 500),
        (grpc.StatusCode.UNKNOWN, 500),
        (grpc.StatusCode.DATA_LOSS, 500),
    ],
)
def test_status_mapping(code, expected):
    assert http_status(code.value[0]) == expected
    assert error_body(status_pb2.Status(code=code.value[0], message="m"))["error"]["status"] == code.name


def test_unknown_detail_type_is_kept_opaque():
    status = status_pb2.Status(code=code_pb2.INTERNAL, message="boom")
    status.details.add(type_url="type.googleapis.com/acme.Secret", value=b"\x01\x02")
    assert error_body(status)["error"]["details"] == [{"@type": "type.googleapis.com/acme.Secret", "value": "AQI="}]


@pytest.mark.parametrize("name", ["customers/db-down", "customers/plain-unavailable"])
async def test_a_service_answering_unavailable_is_503_so_clients_retry(live, name):
    """Issue 8, item 16 at the edge: UNAVAILABLE (e.g. the service's database is down) is
    HTTP 503, with or without rich details, over real HTTP."""
    response = await live.get(f"/v1/{name}", headers=auth())
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (503, "UNAVAILABLE")


async def test_an_unreachable_service_is_503_over_real_http():
    async with serve(create_app(make_settings({"customer": unused_address()}))) as down:
        response = await down.get("/v1/customers/c1", headers=auth())
    assert response.status_code == 503
    assert response.json()["error"]["status"] == "UNAVAILABLE"
