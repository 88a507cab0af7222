"""Request building for field types the customer API does not use yet.

A small proto (built in memory, added to the default pool under its own package) covers
bools, 64-bit ints, doubles, bytes, repeated scalars and enums, Timestamp, Duration,
FieldMask, wrappers, maps, Struct, nested messages, `**` routes, additional_bindings,
response_body, and the RPCs the gateway must skip.
"""

from __future__ import annotations

import base64

import pytest
from google.api import annotations_pb2
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    field_mask_pb2,
    json_format,
    struct_pb2,
    timestamp_pb2,
    wrappers_pb2,
)

from gateway.errors import GatewayError
from gateway.http_rules import RequestPath
from gateway.openapi import build_openapi
from gateway.registry import ResolvedBackend
from gateway.transcode import build_operations, build_request, render_response

PACKAGE = "atelier.gatewaytest.v1"
F = descriptor_pb2.FieldDescriptorProto


def _field(message, name, number, type_, *, repeated=False, type_name=""):
    f = message.field.add(name=name, number=number, type=type_)
    f.label = F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL
    if type_name:
        f.type_name = type_name


def _kitchen_file() -> descriptor_pb2.FileDescriptorProto:
    fdp = descriptor_pb2.FileDescriptorProto(
        name="atelier/gatewaytest/v1/kitchen.proto", package=PACKAGE, syntax="proto3"
    )
    for dep in (timestamp_pb2, duration_pb2, field_mask_pb2, wrappers_pb2, struct_pb2, annotations_pb2):
        fdp.dependency.append(dep.DESCRIPTOR.name)

    colour = fdp.enum_type.add(name="Colour")
    colour.value.add(name="COLOUR_UNSPECIFIED", number=0)
    colour.value.add(name="COLOUR_RED", number=1)
    colour.value.add(name="COLOUR_GREEN", number=2)

    inner = fdp.message_type.add(name="Inner")
    _field(inner, "label", 1, F.TYPE_STRING)
    _field(inner, "colour", 2, F.TYPE_ENUM, type_name=f".{PACKAGE}.Colour")
    _field(inner, "child", 3, F.TYPE_MESSAGE, type_name=f".{PACKAGE}.Inner")

    k = fdp.message_type.add(name="Kitchen")
    _field(k, "name", 1, F.TYPE_STRING)
    _field(k, "flag", 2, F.TYPE_BOOL)
    _field(k, "big", 3, F.TYPE_INT64)
    _field(k, "small", 4, F.TYPE_UINT32)
    _field(k, "ratio", 5, F.TYPE_DOUBLE)
    _field(k, "labels", 6, F.TYPE_STRING, repeated=True)
    _field(k, "colours", 7, F.TYPE_ENUM, repeated=True, type_name=f".{PACKAGE}.Colour")
    _field(k, "at", 8, F.TYPE_MESSAGE, type_name=".google.protobuf.Timestamp")
    _field(k, "wait", 9, F.TYPE_MESSAGE, type_name=".google.protobuf.Duration")
    _field(k, "mask", 10, F.TYPE_MESSAGE, type_name=".google.protobuf.FieldMask")
    _field(k, "maybe", 11, F.TYPE_MESSAGE, type_name=".google.protobuf.Int32Value")
    _field(k, "inner", 12, F.TYPE_MESSAGE, type_name=f".{PACKAGE}.Inner")
    entry = k.nested_type.add(name="RoomsEntry")
    entry.options.map_entry = True
    _field(entry, "key", 1, F.TYPE_STRING)
    _field(entry, "value", 2, F.TYPE_MESSAGE, type_name=f".{PACKAGE}.Inner")
    _field(k, "rooms", 13, F.TYPE_MESSAGE, repeated=True, type_name=f".{PACKAGE}.Kitchen.RoomsEntry")
    _field(k, "blob", 14, F.TYPE_BYTES)
    _field(k, "extra", 15, F.TYPE_MESSAGE, type_name=".google.protobuf.Struct")
    _field(k, "times", 16, F.TYPE_MESSAGE, repeated=True, type_name=".google.protobuf.Timestamp")

    response = fdp.message_type.add(name="GetKitchenResponse")
    _field(response, "kitchen", 1, F.TYPE_MESSAGE, type_name=f".{PACKAGE}.Kitchen")
    _field(response, "notes", 2, F.TYPE_STRING, repeated=True)

    service = fdp.service.add(name="KitchenService")
    kitchen = f".{PACKAGE}.Kitchen"

    def rpc(name, output=kitchen, *, server_streaming=False, **rule):
        method = service.method.add(
            name=name, input_type=kitchen, output_type=output, server_streaming=server_streaming
        )
        if rule:
            http = method.options.Extensions[annotations_pb2.http]
            extra = rule.pop("additional", None)
            for key, value in rule.items():
                setattr(http, key, value)
            if extra:
                for key, value in extra.items():
                    setattr(http.additional_bindings.add(), key, value)
        return method

    rpc(
        "GetKitchen",
        f".{PACKAGE}.GetKitchenResponse",
        get="/v1/{name=kitchens/*}",
        response_body="kitchen",
        additional={"get": "/v1/{name=houses/*/kitchens/*}"},
    )
    rpc("PutKitchen", put="/v1/{name=kitchens/*}", body="*")
    rpc("GetFile", get="/v1/{name=files/**}")
    rpc("WatchKitchen", server_streaming=True, get="/v1/kitchens:watch")
    rpc("BadRoute", get="/v1/{nope=x/*}")
    rpc("BadBody", post="/v1/kitchens", body="nope")
    rpc("Unannotated")
    return fdp


@pytest.fixture(scope="module")
def kitchen():
    pool = descriptor_pool.Default()
    try:
        service = pool.FindServiceByName(f"{PACKAGE}.KitchenService")
    except KeyError:
        pool.Add(_kitchen_file())
        service = pool.FindServiceByName(f"{PACKAGE}.KitchenService")
    router, operations = build_operations([ResolvedBackend("kitchen", "127.0.0.1:1", (service,))])
    return router, operations


def route(kitchen, method, path):
    router, _ = kitchen
    found = router.match(method, path)
    assert found is not None, f"{method} {path} did not match"
    return found.route, found.variables


def build(kitchen, method, path, query=(), body=b""):
    op, variables = route(kitchen, method, path)
    return build_request(op, variables, list(query), body)


def violations(excinfo) -> dict[str, str]:
    return dict(excinfo.value.violations)


def test_only_unary_annotated_valid_rpcs_are_routed(kitchen):
    _, operations = kitchen
    assert sorted((op.method.name, op.binding.template.text) for op in operations) == [
        ("GetFile", "/v1/{name=files/**}"),
        ("GetKitchen", "/v1/{name=houses/*/kitchens/*}"),
        ("GetKitchen", "/v1/{name=kitchens/*}"),
        ("PutKitchen", "/v1/{name=kitchens/*}"),
    ]


def test_query_parameters_of_every_kind(kitchen):
    blob = base64.b64encode(b"\x00\xffhi").decode()
    request = build(
        kitchen,
        "GET",
        "/v1/kitchens/k1",
        [
            ("flag", "true"),
            ("big", "9007199254740993"),
            ("small", "7"),
            ("ratio", "0.25"),
            ("labels", "a"),
            ("labels", "b"),
            ("colours", "COLOUR_RED"),
            ("colours", "2"),
            ("at", "2026-01-31T09:30:00+01:00"),
            ("wait", "1.5s"),
            ("mask", "inner.colour,labels,innerLabel"),
            ("maybe", "5"),
            ("inner.label", "x"),
            ("inner.colour", "COLOUR_GREEN"),
            ("inner.child.label", "y"),
            ("blob", blob),
            ("times", "2026-01-01T00:00:00Z"),
            ("times", "2026-01-02T00:00:00Z"),
        ],
    )
    assert request.name == "kitchens/k1"
    assert request.flag is True
    assert request.big == 9007199254740993
    assert request.small == 7
    assert request.ratio == 0.25
    assert list(request.labels) == ["a", "b"]
    assert list(request.colours) == [1, 2]
    assert request.at.ToJsonString() == "2026-01-31T08:30:00Z"
    assert request.wait.ToJsonString() == "1.500s"
    assert list(request.mask.paths) == ["inner.colour", "labels", "inner_label"]
    assert request.HasField("maybe") and request.maybe.value == 5
    assert (request.inner.label, request.inner.colour, request.inner.child.label) == ("x", 2, "y")
    assert request.blob == b"\x00\xffhi"
    assert [t.ToJsonString() for t in request.times] == ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"]


def test_bad_query_parameters_are_all_named(kitchen):
    with pytest.raises(GatewayError) as excinfo:
        build(
            kitchen,
            "GET",
            "/v1/kitchens/k1",
            [
                ("flag", "maybe"),
                ("small", "-1"),
                ("colours", "COLOUR_BLUE"),
                ("at", "yesterday"),
                ("wait", "soon"),
                ("rooms", "x"),
                ("inner", "x"),
                ("extra", "{}"),
                ("inner.nope", "1"),
                ("labels.x", "1"),
            ],
        )
    found = violations(excinfo)
    assert set(found) == {
        "flag",
        "small",
        "colours",
        "at",
        "wait",
        "rooms",
        "inner",
        "extra",
        "inner.nope",
        "labels.x",
    }
    assert "COLOUR_RED" in found["colours"]
    assert "RFC 3339" in found["at"]
    assert found["inner.nope"] == "unknown query parameter"


def test_body_star_with_maps_struct_and_field_masks(kitchen):
    body = (
        b'{"name": "kitchens/other", "rooms": {"pantry": {"label": "P", "colour": "COLOUR_RED"}},'
        b' "extra": {"anything": [1, "two", {"three": null}]}, "mask": "inner.colour,labels",'
        b' "big": "12", "maybe": null, "wait": "2s"}'
    )
    request = build(kitchen, "PUT", "/v1/kitchens/k1", body=body)
    assert request.name == "kitchens/k1"  # the path wins over the body
    assert request.rooms["pantry"].label == "P"
    assert json_format.MessageToDict(request.extra) == {"anything": [1, "two", {"three": None}]}
    assert list(request.mask.paths) == ["inner.colour", "labels"]
    assert request.big == 12
    assert not request.HasField("maybe")

    # snake_case FieldMask paths are accepted in bodies too.
    request = build(kitchen, "PUT", "/v1/kitchens/k1", body=b'{"mask": "inner.colour,inner_label"}')
    assert list(request.mask.paths) == ["inner.colour", "inner_label"]


def test_body_errors_are_named_with_their_path(kitchen):
    with pytest.raises(GatewayError) as excinfo:
        build(
            kitchen,
            "PUT",
            "/v1/kitchens/k1",
            body=b'{"rooms": {"pantry": {"bogus": 1, "colour": "COLOUR_BLUE"}}, "colours": ["COLOUR_RED", 7],'
            b' "small": -3, "ratio": "lots", "maybe": "x", "inner": {"child": {"child": {"what": 1}}}}',
        )
    assert set(violations(excinfo)) == {
        'rooms["pantry"].bogus',
        'rooms["pantry"].colour',
        "colours[1]",
        "small",
        "ratio",
        "maybe",
        "inner.child.child.what",
    }


def test_body_star_takes_no_query_parameters(kitchen):
    with pytest.raises(GatewayError) as excinfo:
        build(kitchen, "PUT", "/v1/kitchens/k1", [("flag", "true")], b"{}")
    assert "body" in violations(excinfo)["flag"]


def test_additional_binding_and_deep_wildcard(kitchen):
    op, variables = route(kitchen, "GET", "/v1/houses/h1/kitchens/k2")
    assert (op.method.name, variables) == ("GetKitchen", {"name": "houses/h1/kitchens/k2"})
    op, variables = route(kitchen, "GET", "/v1/files/a/b/c.txt")
    assert (op.method.name, variables) == ("GetFile", {"name": "files/a/b/c.txt"})


def test_response_body_field(kitchen):
    op, _ = route(kitchen, "GET", "/v1/kitchens/k1")
    response = op.response_class()
    response.kitchen.name = "kitchens/k1"
    response.kitchen.big = 5
    response.notes.append("not shown")
    assert render_response(op, response) == b'{"name":"kitchens/k1","big":"5"}'
    assert render_response(op, op.response_class()) == b"{}"


def test_openapi_for_the_kitchen(kitchen):
    _, operations = kitchen
    spec = build_openapi(operations)
    paths = spec["paths"]
    assert set(paths) == {
        "/v1/kitchens/{kitchen}",
        "/v1/houses/{house}/kitchens/{kitchen}",
        "/v1/files/{namePath}",
    }
    get = paths["/v1/kitchens/{kitchen}"]["get"]
    by_name = {p["name"]: p for p in get["parameters"]}
    assert by_name["kitchen"]["in"] == "path"
    assert by_name["labels"]["schema"] == {"type": "array", "items": {"type": "string"}}
    assert by_name["labels"]["explode"] is True
    assert by_name["at"]["schema"] == {"type": "string", "format": "date-time"}
    assert by_name["big"]["schema"] == {"type": "string", "format": "int64"}
    assert by_name["maybe"]["schema"]["type"] == ["integer", "null"]
    assert by_name["inner.child.label"]["schema"] == {"type": "string"}
    assert "inner.child.child.label" not in by_name  # depth-limited: Inner is recursive
    assert "rooms" not in by_name and "extra" not in by_name
    # response_body: the operation answers with the Kitchen itself.
    assert get["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{PACKAGE}.Kitchen"
    }
    assert {
        p["name"] for p in paths["/v1/houses/{house}/kitchens/{kitchen}"]["get"]["parameters"] if p["in"] == "path"
    } == {"house", "kitchen"}
    assert get["operationId"] != paths["/v1/houses/{house}/kitchens/{kitchen}"]["get"]["operationId"]

    schema = spec["components"]["schemas"][f"{PACKAGE}.Kitchen"]["properties"]
    assert schema["rooms"] == {
        "type": "object",
        "additionalProperties": {"$ref": f"#/components/schemas/{PACKAGE}.Inner"},
    }
    assert schema["extra"] == {"type": "object", "additionalProperties": True}
    assert schema["wait"]["type"] == "string"
    assert schema["mask"]["type"] == "string"
    assert schema["blob"] == {"type": "string", "contentEncoding": "base64"}
    assert spec["components"]["schemas"][f"{PACKAGE}.Colour"]["enum"] == [
        "COLOUR_UNSPECIFIED",
        "COLOUR_RED",
        "COLOUR_GREEN",
    ]

    put = paths["/v1/kitchens/{kitchen}"]["put"]
    body = put["requestBody"]["content"]["application/json"]["schema"]
    assert "name" not in body["properties"] and "flag" in body["properties"]


def test_request_path_split():
    p = RequestPath.split("/v1/customers/c1:grantConsent")
    assert p.verb == "grantConsent"
    assert p.verb_segments == ("v1", "customers", "c1")
    assert RequestPath.split("/v1/a:").verb == ""
    assert RequestPath.split("no-slash").segments is None


def test_nul_is_refused_in_every_kind_of_string(kitchen):
    """Issue 8, item 12: maps (keys and values), Struct at any depth, wrappers, FieldMask,
    enums, bytes, repeated and nested strings: each NUL is named by its field path."""
    body = (
        b'{"labels": ["ok", "b\\u0000d"], "rooms": {"pan\\u0000try": {"label": "P"}, "attic": {"label": "\\u0000"}},'
        b' "extra": {"a": [1, {"deep": "x\\u0000"}], "k\\u0000": 1}, "mask": "inner.colour,la\\u0000bels",'
        b' "colours": ["COLOUR_RED\\u0000"], "blob": "AA\\u0000=", "inner": {"child": {"label": "\\u0000"}},'
        b' "times": ["2026-01-01T00:00:00Z\\u0000"], "wait": "1s\\u0000"}'
    )
    with pytest.raises(GatewayError) as excinfo:
        build(kitchen, "PUT", "/v1/kitchens/k1", body=body)
    nul = "must not contain a NUL character (U+0000)"
    assert violations(excinfo) == {
        "labels[1]": nul,
        'rooms["pan\\u0000try"]': "the key " + nul,
        'rooms["attic"].label': nul,
        'extra["a"][1]["deep"]': nul,
        'extra["k\\u0000"]': "the key " + nul,
        "mask": nul,
        "colours[0]": nul,
        "blob": nul,
        "inner.child.label": nul,
        "times[0]": nul,
        "wait": nul,
    }
    with pytest.raises(GatewayError) as excinfo:
        build(kitchen, "PUT", "/v1/kitchens/k1", body=b'{"maybe": null, "name": "\\u0000"}')
    assert violations(excinfo) == {"name": nul}


def test_nul_and_control_characters_outside_the_body(kitchen):
    with pytest.raises(GatewayError) as excinfo:
        build(kitchen, "GET", "/v1/kitchens/k1", [("inner.label", "a\x00"), ("labels", "x"), ("labels", "\x00")])
    assert violations(excinfo) == {
        "inner.label": "must not contain a NUL character (U+0000)",
        "labels": "must not contain a NUL character (U+0000)",
    }
    # Path variables are resource names: no control character at all, `**` ones included.
    with pytest.raises(GatewayError) as excinfo:
        build(kitchen, "GET", "/v1/files/a/b%0A/c.txt")
    assert violations(excinfo) == {"name": "a resource name must not contain a newline (U+000A)"}
    with pytest.raises(GatewayError) as excinfo:
        build(kitchen, "GET", "/v1/houses/h1/kitchens/k2%7F")
    assert violations(excinfo) == {"name": "a resource name must not contain a control character (U+007F)"}
    # Other characters, escaped or not, are left to the services' own name rules.
    assert build(kitchen, "GET", "/v1/kitchens/k%C3%A9%20x").name == "kitchens/ké x"
