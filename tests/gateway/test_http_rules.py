"""Path templates: grammar, matching, and a deterministic route order."""

from __future__ import annotations

import pytest

from gateway.http_rules import DEEP_WILDCARD, LITERAL, WILDCARD, PathTemplate, Router, TemplateError


def match(template: str, path: str):
    from gateway.http_rules import RequestPath

    return PathTemplate.parse(template).match(RequestPath.split(path))


def test_parse_shapes():
    t = PathTemplate.parse("/v1/{name=customers/*}")
    assert [s.kind for s in t.segments] == [LITERAL, LITERAL, WILDCARD]
    assert [(v.field_path, v.start, v.end) for v in t.variables] == [("name", 1, 3)]
    assert t.verb == ""

    t = PathTemplate.parse("/v1/{customer.name=customers/*}")
    assert t.variables[0].fields == ("customer", "name")

    t = PathTemplate.parse("/v1/{name=customers/*}:grantConsent")
    assert t.verb == "grantConsent"

    t = PathTemplate.parse("/v1/customers:search")
    assert ([s.literal for s in t.segments], t.verb) == (["v1", "customers"], "search")

    t = PathTemplate.parse("/v1/{parent=customers/*}/notes")
    assert [str(s) for s in t.segments] == ["v1", "customers", "*", "notes"]

    t = PathTemplate.parse("/v1/files/{path=**}")
    assert t.segments[-1].kind == DEEP_WILDCARD


def test_plain_variable_is_a_single_wildcard():
    assert PathTemplate.parse("/v1/items/{id}").segments == PathTemplate.parse("/v1/items/{id=*}").segments


@pytest.mark.parametrize(
    "bad",
    [
        "v1/x",
        "/v1/{name",
        "/v1/{=x}",
        "/v1/{a={b}}",
        "/v1/**/x",
        "/v1/x:",
        "/v1//x",
        "/v1/{a}/{a}",
        "/v1/{a.}",
    ],
)
def test_bad_templates(bad):
    with pytest.raises(TemplateError):
        PathTemplate.parse(bad)


def test_matching_binds_variables():
    assert match("/v1/{name=customers/*}", "/v1/customers/c1") == {"name": "customers/c1"}
    assert match("/v1/{name=customers/*}", "/v1/customers") is None
    assert match("/v1/{name=customers/*}", "/v1/customers/c1/notes") is None  # * never spans a /
    assert match("/v1/{name=customers/*}", "/v1/customers/") is None  # nor matches nothing
    assert match("/v1/{name=customers/*}", "/v1/stores/s1") is None
    assert match("/v1/{parent=customers/*}/notes", "/v1/customers/c1/notes") == {"parent": "customers/c1"}
    assert match("/v1/{customer.name=customers/*}", "/v1/customers/c9") == {"customer.name": "customers/c9"}
    assert match("/v1/items/{id}", "/v1/items/42") == {"id": "42"}


def test_verbs_are_split_first():
    assert match("/v1/{name=customers/*}:grantConsent", "/v1/customers/c1:grantConsent") == {"name": "customers/c1"}
    assert match("/v1/{name=customers/*}:grantConsent", "/v1/customers/c1:withdrawConsent") is None
    assert match("/v1/{name=customers/*}:grantConsent", "/v1/customers/c1") is None
    assert match("/v1/customers:search", "/v1/customers:search") == {}
    assert match("/v1/customers:search", "/v1/customers") is None
    assert match("/v1/customers", "/v1/customers:search") is None


def test_deep_wildcard():
    assert match("/v1/{path=files/**}", "/v1/files/a/b/c") == {"path": "files/a/b/c"}
    assert match("/v1/{path=files/**}", "/v1/files") == {"path": "files"}
    assert match("/v1/{path=files/**}:download", "/v1/files/a/b:download") == {"path": "files/a/b"}
    # An encoded slash inside one segment stays encoded in a multi-segment value.
    assert match("/v1/{path=files/**}", "/v1/files/a%2Fb/c%20d") == {"path": "files/a%2Fb/c d"}


def test_percent_decoding():
    # google.api.http: a one-segment variable is fully decoded; a multi-segment one
    # keeps %2F so the value's own segments stay unambiguous.
    assert match("/v1/items/{id}", "/v1/items/a%2Fb%20c") == {"id": "a/b c"}
    assert match("/v1/{name=customers/*}", "/v1/customers/a%2Fb") == {"name": "customers/a%2Fb"}
    assert match("/v1/{name=customers/*}", "/v1/customers/a%3Ab") == {"name": "customers/a:b"}
    assert match("/v1/{name=customers/*}:grantConsent", "/v1/customers/a%3Ab:grantConsent") == {"name": "customers/a:b"}


def test_router_order_is_deterministic_and_specific_first():
    router = Router()
    # Added in the least helpful order on purpose.
    router.add("GET", PathTemplate.parse("/v1/{name=**}"), "deep")
    router.add("GET", PathTemplate.parse("/v1/{name=*}"), "any-one")
    router.add("GET", PathTemplate.parse("/v1/{name=customers/*}"), "get")
    router.add("GET", PathTemplate.parse("/v1/customers"), "list")
    router.add("GET", PathTemplate.parse("/v1/customers:search"), "search")
    router.add("GET", PathTemplate.parse("/v1/{name=*}:search"), "search-any")
    router.add("POST", PathTemplate.parse("/v1/{name=customers/*}:grantConsent"), "grant")

    def route(method, path):
        found = router.match(method, path)
        return found.route if found else None

    assert route("GET", "/v1/customers") == "list"
    assert route("GET", "/v1/customers:search") == "search"
    assert route("GET", "/v1/stores:search") == "search-any"
    assert route("GET", "/v1/customers/c1") == "get"
    assert route("GET", "/v1/stores") == "any-one"
    assert route("GET", "/v1/a/b/c") == "deep"
    assert route("POST", "/v1/customers/c1:grantConsent") == "grant"
    assert route("POST", "/v1/customers/c1") is None
    # GET too: `/v1/{name=**}` matches any path under /v1.
    assert router.allowed_methods("/v1/customers/c1:grantConsent") == ["GET", "POST"]
    assert router.allowed_methods("/nowhere") == []


def test_router_refuses_the_same_route_twice():
    router = Router()
    router.add("GET", PathTemplate.parse("/v1/{name=customers/*}"), "a")
    with pytest.raises(TemplateError):
        router.add("GET", PathTemplate.parse("/v1/{name=customers/*}"), "b")
