"""HTTP path templates from `google.api.http` rules: parsing, matching and route order.

Template grammar (google/api/http.proto):

    Template = "/" Segments [ Verb ] ;
    Segments = Segment { "/" Segment } ;
    Segment  = "*" | "**" | LITERAL | Variable ;
    Variable = "{" FieldPath [ "=" Segments ] "}" ;
    FieldPath = IDENT { "." IDENT } ;
    Verb     = ":" LITERAL ;

`{field}` is shorthand for `{field=*}`. A `*` matches exactly one path segment (never a
`/`); `**` matches zero or more segments and may only be the last segment.

Matching rules that keep routing deterministic:

* The custom verb is split off the request path first (text after the last `:` of the
  last segment). Templates with a verb only match when the verbs are equal, and they are
  tried before templates without one, so `/v1/customers:search` or
  `/v1/customers/c1:grantConsent` is never captured by `/v1/{name=customers/*}`.
* Within each group, templates are ordered by specificity: segment by segment, a literal
  beats `*`, which beats `**`; the template text breaks any remaining tie.
* Variables bound to one segment (`*`) are fully percent-decoded; variables spanning
  several segments keep `%2F` encoded so the segment structure stays visible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import unquote

from google.api import http_pb2

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LITERAL = re.compile(r"[^/{}*:=]+")

LITERAL = 0
WILDCARD = 1
DEEP_WILDCARD = 2


class TemplateError(ValueError):
    """A path template in a proto annotation does not follow the grammar."""


@dataclass(frozen=True)
class Segment:
    kind: int  # LITERAL, WILDCARD or DEEP_WILDCARD
    literal: str = ""

    def __str__(self) -> str:
        return self.literal if self.kind == LITERAL else ("*" if self.kind == WILDCARD else "**")


@dataclass(frozen=True)
class Variable:
    field_path: str
    # Index range [start, end) into PathTemplate.segments that this variable binds.
    start: int
    end: int

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.field_path.split("."))


@dataclass(frozen=True)
class PathTemplate:
    text: str
    segments: tuple[Segment, ...]
    variables: tuple[Variable, ...]
    verb: str = ""

    @classmethod
    def parse(cls, text: str) -> PathTemplate:
        return _Parser(text).parse()

    def specificity(self) -> tuple[int, tuple[int, ...], str]:
        return (0 if self.verb else 1, tuple(s.kind for s in self.segments), self.text)

    def match(self, path: RequestPath) -> dict[str, str] | None:
        """Bound variables (field path → value) when the path matches, else None."""
        if self.verb:
            if path.verb != self.verb:
                return None
            raw = path.verb_segments
        else:
            raw = path.segments
        if raw is None:
            return None
        segs = self.segments
        deep = bool(segs) and segs[-1].kind == DEEP_WILDCARD
        if deep:
            if len(raw) < len(segs) - 1:
                return None
        elif len(raw) != len(segs):
            return None
        for i, seg in enumerate(segs):
            if seg.kind == LITERAL:
                if _decode(raw[i]) != seg.literal:
                    return None
            elif seg.kind == WILDCARD and raw[i] == "":
                return None
        bound: dict[str, str] = {}
        for var in self.variables:
            end = len(raw) if (deep and var.end == len(segs)) else var.end
            parts = raw[var.start : end]
            if len(parts) == 1 and segs[var.start].kind != DEEP_WILDCARD:
                bound[var.field_path] = _decode(parts[0])
            else:
                bound[var.field_path] = "/".join(_decode_keep_slash(p) for p in parts)
        return bound

    def variable_at(self, index: int) -> Variable | None:
        for var in self.variables:
            if var.start <= index < var.end:
                return var
        return None


@dataclass(frozen=True)
class RequestPath:
    """A request path split once, shared by every template tried against it."""

    segments: tuple[str, ...] | None
    verb: str
    verb_segments: tuple[str, ...] | None

    @classmethod
    def split(cls, raw_path: str) -> RequestPath:
        if not raw_path.startswith("/"):
            return cls(None, "", None)
        segments = tuple(raw_path[1:].split("/"))
        verb = ""
        verb_segments = None
        last = segments[-1]
        if ":" in last:
            base, _, verb = last.rpartition(":")
            if base and verb:
                verb_segments = segments[:-1] + (base,)
            else:
                verb = ""
        return cls(segments, verb, verb_segments)


def _decode(segment: str) -> str:
    return unquote(segment)


def _decode_keep_slash(segment: str) -> str:
    return unquote(segment.replace("%2F", "%252F").replace("%2f", "%252f"))


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.segments: list[Segment] = []
        self.variables: list[Variable] = []

    def fail(self, why: str) -> TemplateError:
        return TemplateError(f"path template {self.text!r}: {why} (at offset {self.pos})")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, ch: str) -> None:
        if self.peek() != ch:
            raise self.fail(f"expected {ch!r}")
        self.pos += 1

    def parse(self) -> PathTemplate:
        self.expect("/")
        self.parse_segments(inside_variable=False)
        verb = ""
        if self.peek() == ":":
            self.pos += 1
            m = _LITERAL.match(self.text, self.pos)
            if not m:
                raise self.fail("empty custom verb")
            verb = m.group(0)
            self.pos = m.end()
        if self.pos != len(self.text):
            raise self.fail("unexpected character")
        for i, seg in enumerate(self.segments):
            if seg.kind == DEEP_WILDCARD and i != len(self.segments) - 1:
                raise self.fail("'**' must be the last segment")
        seen: set[str] = set()
        for var in self.variables:
            if var.field_path in seen:
                raise self.fail(f"field {var.field_path!r} bound twice")
            seen.add(var.field_path)
        return PathTemplate(self.text, tuple(self.segments), tuple(self.variables), verb)

    def parse_segments(self, *, inside_variable: bool) -> None:
        while True:
            self.parse_segment(inside_variable=inside_variable)
            if self.peek() != "/":
                return
            self.pos += 1

    def parse_segment(self, *, inside_variable: bool) -> None:
        if self.text.startswith("**", self.pos):
            self.pos += 2
            self.segments.append(Segment(DEEP_WILDCARD))
        elif self.peek() == "*":
            self.pos += 1
            self.segments.append(Segment(WILDCARD))
        elif self.peek() == "{":
            if inside_variable:
                raise self.fail("nested variable")
            self.parse_variable()
        else:
            m = _LITERAL.match(self.text, self.pos)
            if not m:
                raise self.fail("empty segment")
            self.segments.append(Segment(LITERAL, m.group(0)))
            self.pos = m.end()

    def parse_variable(self) -> None:
        self.expect("{")
        names: list[str] = []
        while True:
            m = _IDENT.match(self.text, self.pos)
            if not m:
                raise self.fail("expected a field name")
            names.append(m.group(0))
            self.pos = m.end()
            if self.peek() != ".":
                break
            self.pos += 1
        start = len(self.segments)
        if self.peek() == "=":
            self.pos += 1
            self.parse_segments(inside_variable=True)
        else:
            self.segments.append(Segment(WILDCARD))
        self.expect("}")
        self.variables.append(Variable(".".join(names), start, len(self.segments)))


@dataclass(frozen=True)
class HttpBinding:
    """One HTTP shape of an RPC (the main rule or one of its additional_bindings)."""

    method: str
    template: PathTemplate
    body: str = ""
    response_body: str = ""


def bindings_from_rule(rule: http_pb2.HttpRule) -> list[HttpBinding]:
    """Every binding of a google.api.HttpRule; raises TemplateError on a bad template."""
    out: list[HttpBinding] = []

    def one(r: http_pb2.HttpRule) -> None:
        kind = r.WhichOneof("pattern")
        if kind is None:
            return
        if kind == "custom":
            method, path = r.custom.kind.upper(), r.custom.path
        else:
            method, path = kind.upper(), getattr(r, kind)
        out.append(HttpBinding(method, PathTemplate.parse(path), r.body, r.response_body))

    one(rule)
    for extra in rule.additional_bindings:
        one(extra)
    return out


Route = TypeVar("Route")


@dataclass
class RouteMatch(Generic[Route]):
    route: Route
    variables: dict[str, str]


@dataclass
class Router(Generic[Route]):
    """Routes keyed by HTTP method, each list in deterministic match order."""

    _by_method: dict[str, list[tuple[PathTemplate, Route]]] = field(default_factory=dict)

    def add(self, method: str, template: PathTemplate, route: Route) -> None:
        routes = self._by_method.setdefault(method, [])
        for existing, _ in routes:
            if existing.text == template.text:
                raise TemplateError(f"{method} {template.text} is bound by two RPCs")
        routes.append((template, route))
        routes.sort(key=lambda item: item[0].specificity())

    def match(self, method: str, raw_path: str) -> RouteMatch[Route] | None:
        path = RequestPath.split(raw_path)
        for template, route in self._by_method.get(method, ()):
            bound = template.match(path)
            if bound is not None:
                return RouteMatch(route, bound)
        return None

    def allowed_methods(self, raw_path: str) -> list[str]:
        """Methods that would match the path, to tell 405 from 404."""
        path = RequestPath.split(raw_path)
        return sorted(
            method for method, routes in self._by_method.items() if any(t.match(path) is not None for t, _ in routes)
        )

    def routes(self) -> list[tuple[str, PathTemplate, Route]]:
        return [(m, t, r) for m, items in sorted(self._by_method.items()) for t, r in items]
