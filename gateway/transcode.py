"""HTTP/JSON request → gRPC request message, the call itself, and the JSON answer.

JSON conventions (the same for every service):

* Input accepts both lowerCamelCase (`givenName`) and original proto field names
  (`given_name`), in bodies and in query parameters (dotted for nested fields:
  `customer.homeStore` or `customer.home_store`). Giving the same field under both names
  is an error.
* Output is always lowerCamelCase, as google.protobuf.json_format writes it by default:
  fields holding their default value are omitted, 64-bit integers are strings, enums are
  names, Timestamps are RFC 3339 strings, FieldMasks are comma-separated camelCase paths.
* Unknown fields in the body, unknown query parameters, enum values that are neither a
  known name nor a known number, and malformed values are answered with 400 and a
  google.rpc.BadRequest naming every offending field, by its proto path relative to the
  request message (`customer.contact_points[0].kind`), like the services' own errors.
* No string may hold a NUL character (U+0000), wherever it comes from: a JSON string at any
  depth (also map keys and free-form Struct values), a query parameter or a path variable.
  Path variables are resource names, so they may hold no control character at all (a
  name ending in `%0A` is not a name). Such requests are answered 400 naming the field
  before any service is called: PostgreSQL cannot store NUL in text, and a newline in an
  id slips past patterns that anchor with `$`.

Where the fields of a request come from (google.api.http semantics):

1. `body: "*"` — the whole JSON body is the request; `body: "<field>"` — the JSON body is
   that field; no body rule — any body is ignored.
2. Path variables are set next and win over the body (`{customer.name=customers/*}`).
3. Query parameters fill the remaining fields: repeated parameters for repeated fields,
   enums by name or number, bools as true/false, FieldMask as comma-separated paths
   (camelCase or snake_case), Timestamp as RFC 3339, Duration as `1.5s`. A parameter may
   not set a field bound by the path or the body.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeAlias

import grpc
from google.api import annotations_pb2
from google.protobuf import duration_pb2, field_mask_pb2, json_format, message_factory, timestamp_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message

from gateway.errors import bad_request
from gateway.http_rules import HttpBinding, Router, TemplateError, bindings_from_rule
from gateway.registry import ResolvedBackend

log = logging.getLogger(__name__)

# (field path, description) pairs, collected to answer one google.rpc.BadRequest.
Violations: TypeAlias = list[tuple[str, str]]
# A stub for calling one RPC on one channel (request and reply classes vary by RPC).
UnaryCallable: TypeAlias = grpc.aio.UnaryUnaryMultiCallable[Message, Message]

NUL_PROBLEM = "must not contain a NUL character (U+0000)"
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")

FD = FieldDescriptor
_INT32 = {FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32}
_INT64 = {FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64}
_UINT32 = {FD.TYPE_UINT32, FD.TYPE_FIXED32}
_UINT64 = {FD.TYPE_UINT64, FD.TYPE_FIXED64}
_INTEGERS = _INT32 | _INT64 | _UINT32 | _UINT64
_FLOATS = {FD.TYPE_FLOAT, FD.TYPE_DOUBLE}
_INT_RANGE = {
    **dict.fromkeys(_INT32, (-(2**31), 2**31 - 1)),
    **dict.fromkeys(_INT64, (-(2**63), 2**63 - 1)),
    **dict.fromkeys(_UINT32, (0, 2**32 - 1)),
    **dict.fromkeys(_UINT64, (0, 2**64 - 1)),
}

WRAPPERS = {
    f"google.protobuf.{n}Value"
    for n in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
}
# Well-known types whose JSON form is a single string (or scalar), so they can be set
# from a query parameter or a path variable.
SCALAR_LIKE = {
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
    "google.protobuf.FieldMask",
} | WRAPPERS
# Well-known types with a free-form JSON shape that json_format validates itself.
FREE_FORM = {
    "google.protobuf.Any",
    "google.protobuf.Struct",
    "google.protobuf.Value",
    "google.protobuf.ListValue",
}


@dataclass
class Operation:
    """One HTTP binding of one unary RPC."""

    backend: str
    method: MethodDescriptor
    binding: HttpBinding
    request_class: type[Message]
    response_class: type[Message]
    path_fields: frozenset[str]
    body_field: FieldDescriptor | None = None
    response_field: FieldDescriptor | None = None
    # Field path of each path variable → its chain of field descriptors, resolved once.
    path_chains: dict[str, list[FieldDescriptor]] = field(default_factory=dict, repr=False)
    _callable: tuple[grpc.aio.Channel, UnaryCallable] | None = field(default=None, repr=False)

    @property
    def grpc_path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def operation_id(self) -> str:
        return f"{self.method.containing_service.name}_{self.method.name}"

    def callable_for(self, channel: grpc.aio.Channel) -> UnaryCallable:
        # Kept with the channel it was made on: building one per request would be waste,
        # and a reopened channel needs a new one.
        if self._callable is None or self._callable[0] is not channel:
            multicallable: UnaryCallable = channel.unary_unary(
                self.grpc_path,
                request_serializer=self.request_class.SerializeToString,
                response_deserializer=self.response_class.FromString,
            )
            self._callable = (channel, multicallable)
        return self._callable[1]


def build_operations(backends: list[ResolvedBackend]) -> tuple[Router[Operation], list[Operation]]:
    router: Router[Operation] = Router()
    operations: list[Operation] = []
    for backend in backends:
        for service in backend.services:
            for method in service.methods:
                for op in _operations_for(backend.name, method):
                    try:
                        router.add(op.binding.method, op.binding.template, op)
                    except TemplateError as exc:
                        log.error("gateway: skipping %s: %s", method.full_name, exc)
                        continue
                    operations.append(op)
    return router, operations


def _operations_for(backend: str, method: MethodDescriptor) -> list[Operation]:
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        log.info("gateway: %s has no google.api.http rule; not exposed over HTTP", method.full_name)
        return []
    if method.client_streaming or method.server_streaming:
        log.info("gateway: %s is a streaming RPC; only unary RPCs are transcoded", method.full_name)
        return []
    try:
        bindings = bindings_from_rule(options.Extensions[annotations_pb2.http])
    except TemplateError as exc:
        log.error("gateway: skipping %s: %s", method.full_name, exc)
        return []
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    ops: list[Operation] = []
    for binding in bindings:
        try:
            ops.append(_operation(backend, method, binding, request_class, response_class))
        except TemplateError as exc:
            log.error(
                "gateway: skipping %s %s of %s: %s",
                binding.method,
                binding.template.text,
                method.full_name,
                exc,
            )
    return ops


def _operation(
    backend: str,
    method: MethodDescriptor,
    binding: HttpBinding,
    request_class: type[Message],
    response_class: type[Message],
) -> Operation:
    request = method.input_type
    path_chains: dict[str, list[FieldDescriptor]] = {}
    for var in binding.template.variables:
        fields = _field_chain(request, var.fields)
        leaf = fields[-1]
        if leaf.is_repeated or (leaf.type == FD.TYPE_MESSAGE and message_of(leaf).full_name not in SCALAR_LIKE):
            raise TemplateError(f"path variable {var.field_path} must be a singular scalar field")
        path_chains[var.field_path] = fields
    body_field = None
    if binding.body and binding.body != "*":
        body_field = request.fields_by_name.get(binding.body)
        if body_field is None:
            raise TemplateError(f"body field {binding.body!r} is not a field of {request.full_name}")
    response_field = None
    if binding.response_body:
        response_field = method.output_type.fields_by_name.get(binding.response_body)
        if response_field is None:
            raise TemplateError(
                f"response_body {binding.response_body!r} is not a field of {method.output_type.full_name}"
            )
    return Operation(
        backend=backend,
        method=method,
        binding=binding,
        request_class=request_class,
        response_class=response_class,
        path_fields=frozenset(path_chains),
        body_field=body_field,
        response_field=response_field,
        path_chains=path_chains,
    )


def _field_chain(message: Descriptor, names: tuple[str, ...]) -> list[FieldDescriptor]:
    chain: list[FieldDescriptor] = []
    current: Descriptor | None = message
    for i, name in enumerate(names):
        if current is None:
            raise TemplateError(f"{'.'.join(names[:i])} is not a message field")
        fd = current.fields_by_name.get(name)
        if fd is None:
            raise TemplateError(f"{current.full_name} has no field {name!r}")
        if i < len(names) - 1 and (fd.is_repeated or fd.type != FD.TYPE_MESSAGE):
            raise TemplateError(f"{'.'.join(names[: i + 1])} is not a singular message field")
        chain.append(fd)
        current = fd.message_type
    return chain


# ---------------------------------------------------------------------------------------
# Building the request


def build_request(op: Operation, variables: dict[str, str], query: list[tuple[str, str]], body: bytes) -> Message:
    """The gRPC request for one HTTP request; raises GatewayError(400) naming bad fields."""
    request = op.request_class()
    violations: list[tuple[str, str]] = []
    if op.binding.body:
        _merge_body(op, request, body, violations)
    for field_path, value in variables.items():
        control = _CONTROL_CHARACTER.search(value)
        if control is not None:
            violations.append((field_path, f"a resource name must not contain {_describe_character(control.group())}"))
            continue
        try:
            _set(request, op.path_chains[field_path], [value])
        except ValueError as exc:
            violations.append((field_path, str(exc)))
    _merge_query(op, request, query, violations)
    if violations:
        raise bad_request(violations)
    return request


def _describe_character(character: str) -> str:
    names = {"\x00": "a NUL character", "\n": "a newline", "\r": "a carriage return", "\t": "a tab"}
    return f"{names.get(character, 'a control character')} (U+{ord(character):04X})"


def _merge_body(op: Operation, request: Message, body: bytes, violations: Violations) -> None:
    where = op.body_field.name if op.body_field else "body"
    if not body.strip():
        return
    try:
        value = json.loads(body, object_pairs_hook=_json_object)
    except (ValueError, RecursionError) as exc:
        violations.append((where, f"the request body is not valid JSON: {exc}"))
        return
    document: object
    if op.body_field is None:
        if value is None:
            return
        document = value
    else:
        document = {op.body_field.name: value}
    before = len(violations)
    try:
        _check_message(document, op.method.input_type, "", violations)
        # A request message is an object; _check_message said so when the body is not one.
        if len(violations) > before or not isinstance(document, dict):
            return
        normalise_field_masks(document, op.method.input_type)
        json_format.ParseDict(document, request)
    except json_format.ParseError as exc:
        violations.append(_describe_parse_error(str(exc), where))
    except RecursionError:
        violations.append((where, "the request body is nested too deeply"))


class _NamedTwice(dict[str, object]):
    """A JSON object that named some member more than once (json.loads would keep the
    last silently); the checks below answer each such member as a violation."""

    twice: list[str]


NAMED_TWICE = "is named more than once in the same JSON object"


def _json_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    found = dict(pairs)
    if len(found) == len(pairs):
        return found
    flagged = _NamedTwice(found)
    seen: set[str] = set()
    flagged.twice = []
    for key, _ in pairs:
        if key in seen and key not in flagged.twice:
            flagged.twice.append(key)
        seen.add(key)
    return flagged


def _named_twice(value: object, path: str, violations: Violations, *, keyed: bool) -> None:
    """Names each member of a JSON object given twice: `path.member`, or `path["key"]`
    for maps and free-form objects."""
    if isinstance(value, _NamedTwice):
        for key in value.twice:
            where = f"{path}[{json.dumps(key)}]" if keyed else (f"{path}.{key}" if path else key)
            violations.append((where, NAMED_TWICE))


def _describe_parse_error(text: str, default_field: str) -> tuple[str, str]:
    # json_format nests "Failed to parse <field> field: ..." once per level.
    names = re.findall(r"Failed to parse (\w+) field: ", text)
    description = re.sub(r"^(Failed to parse \w+ field: )+", "", text).rstrip(".") or text
    return (".".join(names) or default_field, description)


def _merge_query(op: Operation, request: Message, query: list[tuple[str, str]], violations: Violations) -> None:
    # Grouped by field, not by spelling: `pageSize` and `page_size` are one field.
    grouped: dict[str, tuple[str, list[FieldDescriptor], list[str]]] = {}
    for key, value in query:
        if "\x00" in key or "\x00" in value:
            if (key, NUL_PROBLEM) not in violations:
                violations.append((key, NUL_PROBLEM))
            continue
        fields = _query_field_chain(op.method.input_type, key)
        if fields is None:
            if (key, "unknown query parameter") not in violations:
                violations.append((key, "unknown query parameter"))
            continue
        canonical = ".".join(f.name for f in fields)
        grouped.setdefault(canonical, (key, fields, []))[2].append(value)
    for canonical, (key, fields, values) in grouped.items():
        if op.binding.body == "*":
            violations.append((key, "this method takes its fields in the JSON body, not the query string"))
            continue
        if op.body_field is not None and fields[0] is op.body_field:
            violations.append((key, f"{op.body_field.name} is taken from the request body"))
            continue
        if any(
            canonical == p or canonical.startswith(p + ".") or p.startswith(canonical + ".") for p in op.path_fields
        ):
            violations.append((key, "this field is bound by the URL path"))
            continue
        leaf = fields[-1]
        if leaf.type == FD.TYPE_MESSAGE and (is_map(leaf) or message_of(leaf).full_name not in SCALAR_LIKE):
            violations.append((key, "a message cannot be set from the query string; name its fields (a.b=...)"))
            continue
        if not leaf.is_repeated and len(values) > 1:
            violations.append((key, "given more than once but the field is not repeated"))
            continue
        try:
            _set(request, fields, values)
        except ValueError as exc:
            violations.append((key, str(exc)))


def _query_field_chain(message: Descriptor, dotted: str) -> list[FieldDescriptor] | None:
    chain: list[FieldDescriptor] = []
    current: Descriptor | None = message
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if current is None:
            return None
        fd = _fields_by_any_name(current).get(part)
        if fd is None:
            return None
        if i < len(parts) - 1 and (
            fd.is_repeated or fd.type != FD.TYPE_MESSAGE or message_of(fd).full_name in SCALAR_LIKE | FREE_FORM
        ):
            return None
        chain.append(fd)
        current = fd.message_type
    return chain


@cache
def _fields_by_any_name(message: Descriptor) -> dict[str, FieldDescriptor]:
    names: dict[str, FieldDescriptor] = {}
    for fd in message.fields:
        names[fd.json_name] = fd
        names[fd.name] = fd
    return names


def _set(request: Message, fields: list[FieldDescriptor], values: list[str]) -> None:
    parent: Any = request  # a message whose fields are reached by name
    for fd in fields[:-1]:
        parent = getattr(parent, fd.name)
    leaf = fields[-1]
    converted = [_convert(leaf, v) for v in values]
    if leaf.is_repeated:
        target = getattr(parent, leaf.name)
        for value in converted:
            if leaf.type == FD.TYPE_MESSAGE:
                target.add().CopyFrom(value)
            else:
                target.append(value)
    elif leaf.type == FD.TYPE_MESSAGE:
        getattr(parent, leaf.name).CopyFrom(converted[0])
    else:
        setattr(parent, leaf.name, converted[0])


def _convert(fd: FieldDescriptor, text: str) -> object:
    """A query or path string as the field's Python value; ValueError says what is wrong."""
    t = fd.type
    if t == FD.TYPE_STRING:
        return text
    if t == FD.TYPE_BOOL:
        lowered = text.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if t in _INTEGERS:
        try:
            number = int(text)
        except ValueError:
            raise ValueError(f"expected an integer, got {text!r}") from None
        low, high = _INT_RANGE[t]
        if not low <= number <= high:
            raise ValueError(f"{number} is out of range [{low}, {high}]")
        return number
    if t in _FLOATS:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
    if t == FD.TYPE_ENUM:
        return _enum_number(fd, text)
    if t == FD.TYPE_BYTES:
        try:
            padded = text + "=" * (-len(text) % 4)
            return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
        except (binascii.Error, ValueError):
            raise ValueError("expected base64") from None
    if t == FD.TYPE_MESSAGE:
        return _well_known_from_text(message_of(fd), text)
    raise ValueError("this field cannot be set from text")


def _enum_number(fd: FieldDescriptor, value: object) -> int:
    enum = enum_of(fd)
    if isinstance(value, str):
        found = enum.values_by_name.get(value)
        if found is not None:
            return found.number
        try:
            value = int(value)
        except ValueError:
            raise ValueError(_enum_problem(fd, value)) from None
    if isinstance(value, int) and not isinstance(value, bool) and value in enum.values_by_number:
        return value
    raise ValueError(_enum_problem(fd, value))


def _enum_problem(fd: FieldDescriptor, value: object) -> str:
    enum = enum_of(fd)
    names = ", ".join(enum.values_by_name)
    return f"{value!r} is not a value of {enum.full_name} (one of {names}, or its number)"


def _well_known_from_text(message: Descriptor, text: str) -> Message:
    name = message.full_name
    if name == "google.protobuf.Timestamp":
        ts = timestamp_pb2.Timestamp()
        try:
            ts.FromJsonString(text)
        except ValueError as exc:
            raise ValueError(f"expected an RFC 3339 timestamp such as 2026-01-31T09:30:00Z: {exc}") from None
        return ts
    if name == "google.protobuf.Duration":
        d = duration_pb2.Duration()
        try:
            d.FromJsonString(text)
        except ValueError as exc:
            raise ValueError(f"expected a duration such as 1.5s: {exc}") from None
        return d
    if name == "google.protobuf.FieldMask":
        return field_mask_pb2.FieldMask(paths=[_snake_path(p) for p in text.split(",") if p.strip()])
    if name in WRAPPERS:
        return message_factory.GetMessageClass(message)(value=_convert(message.fields_by_name["value"], text))
    raise ValueError(f"{name} cannot be set from text")


def _snake_path(path: str) -> str:
    return ".".join(re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), seg) for seg in path.strip().split("."))


def _camel_path(path: str) -> str:
    return ".".join(re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), seg) for seg in path.strip().split("."))


# ---------------------------------------------------------------------------------------
# Checking a JSON document before json_format sees it, so every offending field is named
# with its full path (json_format stops at the first and names it loosely).


def _check_message(value: object, message: Descriptor, path: str, violations: Violations) -> None:
    name = message.full_name
    if value is None:
        return
    if name in FREE_FORM:
        if name == "google.protobuf.Any" and not (isinstance(value, dict) and "@type" in value):
            violations.append((path, "expected an object with an @type member"))
            return
        _check_free_form(value, path, violations)
        return
    if name in SCALAR_LIKE:
        _check_well_known_scalar(value, message, path, violations)
        return
    if not isinstance(value, dict):
        violations.append((path or "body", f"expected a JSON object for {name}"))
        return
    _named_twice(value, path, violations, keyed=False)
    by_name = _fields_by_any_name(message)
    seen: dict[str, str] = {}
    for key, item in value.items():
        fd = by_name.get(key)
        where = f"{path}.{key}" if path else key
        if fd is None:
            violations.append((where, f"unknown field {key!r} in {name}"))
            continue
        if fd.name in seen:
            violations.append((where, f"given twice, as {seen[fd.name]!r} and {key!r}"))
            continue
        seen[fd.name] = key
        _check_field(item, fd, f"{path}.{fd.name}" if path else fd.name, violations)


def _check_field(value: object, fd: FieldDescriptor, path: str, violations: Violations) -> None:
    if value is None:
        return
    if is_map(fd):
        if not isinstance(value, dict):
            violations.append((path, "expected a JSON object (map)"))
            return
        _named_twice(value, path, violations, keyed=True)
        value_fd = message_of(fd).fields_by_name["value"]
        for key, item in value.items():
            where = f"{path}[{json.dumps(key)}]"
            if "\x00" in key:
                violations.append((where, "the key " + NUL_PROBLEM))
            else:
                _check_single(item, value_fd, where, violations)
        return
    if fd.is_repeated:
        if not isinstance(value, list):
            violations.append((path, "expected a JSON array"))
            return
        for i, item in enumerate(value):
            if item is None:
                violations.append((f"{path}[{i}]", "null is not allowed in a list"))
            else:
                _check_single(item, fd, f"{path}[{i}]", violations)
        return
    _check_single(value, fd, path, violations)


def _check_single(value: object, fd: FieldDescriptor, path: str, violations: Violations) -> None:
    t = fd.type
    if value is None:
        return
    if isinstance(value, str) and "\x00" in value:
        violations.append((path, NUL_PROBLEM))
        return
    if t == FD.TYPE_MESSAGE:
        _check_message(value, message_of(fd), path, violations)
    elif t == FD.TYPE_ENUM:
        try:
            _enum_number(fd, value)
        except ValueError as exc:
            violations.append((path, str(exc)))
    elif t in (FD.TYPE_STRING, FD.TYPE_BYTES):
        if not isinstance(value, str):
            violations.append((path, "expected a JSON string"))
    elif t == FD.TYPE_BOOL:
        if not isinstance(value, bool):
            violations.append((path, "expected true or false"))
    elif t in _INTEGERS:
        number = _json_integer(value)
        if number is None:
            violations.append((path, f"expected an integer, got {json.dumps(value)}"))
            return
        low, high = _INT_RANGE[t]
        if not low <= number <= high:
            violations.append((path, f"{number} is out of range [{low}, {high}]"))
    elif t in _FLOATS:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if isinstance(value, str):
            try:
                float(value)
                ok = True
            except ValueError:
                pass
        if not ok:
            violations.append((path, f"expected a number, got {json.dumps(value)}"))


def _check_free_form(value: object, path: str, violations: Violations) -> None:
    """Struct, Value, ListValue and Any hold any JSON; none of its strings may hold NUL."""
    if isinstance(value, str):
        if "\x00" in value:
            violations.append((path, NUL_PROBLEM))
    elif isinstance(value, dict):
        _named_twice(value, path, violations, keyed=True)
        for key, item in value.items():
            where = f"{path}[{json.dumps(key)}]"
            if "\x00" in key:
                violations.append((where, "the key " + NUL_PROBLEM))
            else:
                _check_free_form(item, where, violations)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_free_form(item, f"{path}[{i}]", violations)


def _json_integer(value: object) -> int | None:
    # JSON integers may arrive as numbers or, for 64-bit values, as strings.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _check_well_known_scalar(value: object, message: Descriptor, path: str, violations: Violations) -> None:
    name = message.full_name
    if isinstance(value, str) and "\x00" in value:
        violations.append((path, NUL_PROBLEM))
        return
    if name in WRAPPERS:
        _check_single(value, message.fields_by_name["value"], path, violations)
        return
    if not isinstance(value, str):
        violations.append((path, f"expected a JSON string for {name}"))
        return
    if name == "google.protobuf.FieldMask":
        return
    try:
        _well_known_from_text(message, value)
    except ValueError as exc:
        violations.append((path, str(exc)))


def normalise_field_masks(document: object, message: Descriptor) -> None:
    """FieldMask JSON is camelCase by spec; snake_case paths are accepted and rewritten in place."""
    if not isinstance(document, dict) or message.full_name in FREE_FORM | SCALAR_LIKE:
        return
    by_name = _fields_by_any_name(message)
    for key, item in document.items():
        fd = by_name.get(key)
        if fd is None or fd.type != FD.TYPE_MESSAGE or item is None or is_map(fd):
            continue
        if message_of(fd).full_name == "google.protobuf.FieldMask":
            if fd.is_repeated and isinstance(item, list):
                document[key] = [
                    ",".join(_camel_path(p) for p in m.split(",")) if isinstance(m, str) else m for m in item
                ]
            elif isinstance(item, str):
                document[key] = ",".join(_camel_path(p) for p in item.split(",") if p.strip())
        elif fd.is_repeated and isinstance(item, list):
            for element in item:
                normalise_field_masks(element, message_of(fd))
        else:
            normalise_field_masks(item, message_of(fd))


# ---------------------------------------------------------------------------------------
# The answer


def render_response(op: Operation, response: Message) -> bytes:
    reply = json_format.MessageToDict(response)
    document: object = reply
    fd = op.response_field
    if fd is not None:
        default: object
        if fd.is_repeated:
            default = {} if is_map(fd) else []
        elif fd.type == FD.TYPE_MESSAGE:
            default = {}
        else:
            default = json_format.MessageToDict(response, always_print_fields_with_no_presence=True).get(fd.json_name)
        document = reply.get(fd.json_name, default)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# ---------------------------------------------------------------------------------------
# Descriptors, typed: the stubs make every field's message and enum type optional.


def message_of(fd: FieldDescriptor) -> Descriptor:
    """The message type of a TYPE_MESSAGE field."""
    if fd.message_type is None:
        raise TypeError(f"{fd.full_name} is not a message field")
    return fd.message_type


def enum_of(fd: FieldDescriptor) -> EnumDescriptor:
    """The enum type of a TYPE_ENUM field."""
    if fd.enum_type is None:
        raise TypeError(f"{fd.full_name} is not an enum field")
    return fd.enum_type


def is_map(fd: FieldDescriptor) -> bool:
    return fd.type == FD.TYPE_MESSAGE and message_of(fd).GetOptions().map_entry
