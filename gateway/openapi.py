"""OpenAPI 3.1 document generated from the same descriptors and HttpRules as the routes.

Choices worth knowing when reading the document:

* Resource-name variables are spelled out segment by segment: `/v1/{name=customers/*}`
  becomes `/v1/customers/{customer}`, naming each wildcard after the resource pattern
  declared with `google.api.resource` (`customers/{customer}`), or after the literal
  before it when no pattern matches. The URL is the same one the gateway routes, so a
  client generated from this document percent-encodes one id segment, never a `/`.
* Property and query parameter names are lowerCamelCase, as the gateway writes JSON
  (original proto names are accepted too, see gateway.transcode).
* Messages and enums are components named by their full proto name.
* Descriptions are the proto comments when gateway.comments can find them, followed by
  the field behaviours (required, output only, immutable).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from google.api import field_behavior_pb2, resource_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor, FileDescriptor

from gateway.http_rules import DEEP_WILDCARD, LITERAL, PathTemplate
from gateway.transcode import FREE_FORM, SCALAR_LIKE, WRAPPERS, Operation, enum_of, is_map, message_of

# A JSON object of the OpenAPI document (a schema, a parameter, an operation, ...).
Schema: TypeAlias = dict[str, Any]

FD = FieldDescriptor
_QUERY_DEPTH = 3

ERROR_SCHEMA: Schema = {
    "type": "object",
    "description": "Google's JSON error shape; details hold google.rpc.BadRequest, ErrorInfo, ...",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "integer", "description": "HTTP status code"},
                "status": {"type": "string", "description": "google.rpc.Code name, e.g. INVALID_ARGUMENT"},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"@type": {"type": "string"}},
                        "required": ["@type"],
                        "additionalProperties": True,
                    },
                },
            },
            "required": ["code", "status", "message"],
        }
    },
    "required": ["error"],
}

INTRO = (
    "HTTP/JSON API of Atelier, transcoded to the gRPC services.\n\n"
    "Every call needs `Authorization: Bearer <JWT>`. Requests accept lowerCamelCase or "
    "original proto field names; responses are lowerCamelCase and omit fields that hold "
    "their default value. 64-bit integers are strings. Errors use Google's JSON error "
    'shape (`{"error": {"code", "status", "message", "details"}}`). Send '
    "`X-Request-Id` to correlate logs; one is generated and echoed otherwise."
)


@dataclass
class _Builder:
    comments: dict[str, str] = field(default_factory=dict)
    schemas: dict[str, Schema] = field(default_factory=dict)
    resource_names: dict[tuple[str, ...], list[str]] = field(default_factory=dict)
    _seen_files: set[str] = field(default_factory=set)

    # -- resource patterns -------------------------------------------------------------

    def learn_resources(self, file: FileDescriptor) -> None:
        if file.name in self._seen_files:
            return
        self._seen_files.add(file.name)
        for dep in file.dependencies:
            self.learn_resources(dep)
        for rd in file.GetOptions().Extensions[resource_pb2.resource_definition]:
            self._learn_patterns(rd.pattern)
        stack = list(file.message_types_by_name.values())
        while stack:
            message = stack.pop()
            stack.extend(message.nested_types)
            options = message.GetOptions()
            if options.HasExtension(resource_pb2.resource):
                self._learn_patterns(options.Extensions[resource_pb2.resource].pattern)

    def _learn_patterns(self, patterns: Iterable[str]) -> None:
        for pattern in patterns:
            shape: list[str] = []
            names: list[str] = []
            for part in pattern.split("/"):
                m = re.fullmatch(r"\{(\w+)\}", part)
                if m:
                    shape.append("*")
                    names.append(m.group(1))
                else:
                    shape.append(part)
            self.resource_names.setdefault(tuple(shape), names)

    def path_for(self, template: PathTemplate, request: Descriptor) -> tuple[str, list[Schema]]:
        """OpenAPI path and its path parameters."""
        parts: list[str] = []
        params: list[Schema] = []
        used: set[str] = set()

        def unique(name: str) -> str:
            candidate, n = name, 2
            while candidate in used:
                candidate, n = f"{name}{n}", n + 1
            used.add(candidate)
            return candidate

        for i, seg in enumerate(template.segments):
            var = template.variable_at(i)
            if seg.kind == LITERAL:
                parts.append(seg.literal)
                continue
            if var is None:
                name = unique(f"segment{i}")
                parts.append("{" + name + "}")
                params.append(_path_param(name, {"type": "string"}, "A path segment."))
                continue
            sub = template.segments[var.start : var.end]
            leaf = _leaf(request, var.field_path)
            if len(sub) == 1 and sub[0].kind != DEEP_WILDCARD:
                name = unique(_camel(var.field_path))
                parts.append("{" + name + "}")
                described = " ".join(filter(None, [self.comments.get(leaf.full_name), f"Sets `{var.field_path}`."]))
                params.append(_path_param(name, self.field_schema(leaf, single=True), described))
                continue
            pattern = "/".join(str(s) for s in sub)
            if seg.kind == DEEP_WILDCARD:
                name = unique(_camel(var.field_path.split(".")[-1]) + "Path")
                parts.append("{" + name + "}")
                params.append(
                    _path_param(
                        name,
                        {"type": "string"},
                        f"The rest of `{var.field_path}` (`{pattern}`); may contain `/`.",
                    )
                )
                continue
            names = self.resource_names.get(tuple(str(s) for s in sub))
            wildcard_index = sum(1 for s in sub[: i - var.start] if s.kind != LITERAL)
            if names and wildcard_index < len(names):
                base = names[wildcard_index]
            else:
                previous = template.segments[i - 1] if i > var.start else None
                base = _singular(previous.literal) if previous is not None and previous.kind == LITERAL else "id"
            name = unique(_camel(base))
            parts.append("{" + name + "}")
            params.append(
                _path_param(
                    name,
                    {"type": "string"},
                    f"The `{{{base}}}` segment of `{var.field_path}` (`{pattern}`).",
                )
            )
        path = "/" + "/".join(parts) + (":" + template.verb if template.verb else "")
        return path, params

    # -- schemas -----------------------------------------------------------------------

    def ref_for_message(self, message: Descriptor) -> Schema:
        inline = _well_known_schema(message)
        if inline is not None:
            return inline
        name = message.full_name
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder first, so recursive messages terminate
            self.schemas[name] = self.message_schema(message)
        return {"$ref": f"#/components/schemas/{name}"}

    def ref_for_enum(self, enum: EnumDescriptor) -> Schema:
        name = enum.full_name
        if name not in self.schemas:
            schema: Schema = {"type": "string", "title": enum.name, "enum": list(enum.values_by_name)}
            lines = [self.comments.get(name, "")]
            lines += [
                f"- `{value}`: {self.comments[f'{name}.{value}']}"
                for value in enum.values_by_name
                if f"{name}.{value}" in self.comments
            ]
            described = "\n".join(line for line in lines if line)
            if described:
                schema["description"] = described
            self.schemas[name] = schema
        return {"$ref": f"#/components/schemas/{name}"}

    def message_schema(self, message: Descriptor, exclude: frozenset[str] = frozenset()) -> Schema:
        properties: dict[str, Schema] = {}
        required: list[str] = []
        for fd in message.fields:
            if fd.name in exclude:
                continue
            schema = dict(self.field_schema(fd))
            behaviours = set(fd.GetOptions().Extensions[field_behavior_pb2.field_behavior])
            notes = [self.comments[fd.full_name]] if fd.full_name in self.comments else []
            if field_behavior_pb2.REQUIRED in behaviours:
                required.append(fd.json_name)
                notes.append("Required.")
            if field_behavior_pb2.OUTPUT_ONLY in behaviours:
                schema["readOnly"] = True
                notes.append("Output only.")
            if field_behavior_pb2.IMMUTABLE in behaviours:
                notes.append("Immutable once set.")
            if field_behavior_pb2.IDENTIFIER in behaviours:
                notes.append("Resource name.")
            if fd.containing_oneof is not None and not fd.containing_oneof.name.startswith("_"):
                notes.append(f"One of `{fd.containing_oneof.name}`.")
            if notes:
                schema["description"] = " ".join(notes)
            properties[fd.json_name] = schema
        out: Schema = {"type": "object", "title": message.name, "properties": properties}
        if message.full_name in self.comments:
            out["description"] = self.comments[message.full_name]
        if required:
            out["required"] = required
        return out

    def field_schema(self, fd: FieldDescriptor, *, single: bool = False) -> Schema:
        if is_map(fd) and not single:
            value_fd = message_of(fd).fields_by_name["value"]
            return {"type": "object", "additionalProperties": self.field_schema(value_fd)}
        if fd.is_repeated and not single:
            return {"type": "array", "items": self.field_schema(fd, single=True)}
        if fd.type == FD.TYPE_MESSAGE:
            return self.ref_for_message(message_of(fd))
        if fd.type == FD.TYPE_ENUM:
            return self.ref_for_enum(enum_of(fd))
        return dict(_SCALARS[fd.type])

    # -- query parameters --------------------------------------------------------------

    def query_params(
        self,
        message: Descriptor,
        skip: set[str],
        prefix: tuple[str, ...] = (),
        trail: tuple[str, ...] = (),
    ) -> list[Schema]:
        params: list[Schema] = []
        for fd in message.fields:
            proto_path = ".".join(prefix + (fd.name,))
            if proto_path in skip:
                continue
            json_path = ".".join(trail + (fd.json_name,))
            if is_map(fd):
                continue
            if fd.type == FD.TYPE_MESSAGE and message_of(fd).full_name not in SCALAR_LIKE:
                # Nested singular messages are set field by field (`a.b=...`); repeated
                # messages and free-form JSON cannot be expressed in a query. The depth
                # limit keeps recursive messages finite.
                if fd.is_repeated or message_of(fd).full_name in FREE_FORM:
                    continue
                if len(prefix) + 1 >= _QUERY_DEPTH:
                    continue
                params.extend(self.query_params(message_of(fd), skip, prefix + (fd.name,), trail + (fd.json_name,)))
                continue
            param: Schema = {"name": json_path, "in": "query", "schema": self.field_schema(fd)}
            notes = [self.comments[fd.full_name]] if fd.full_name in self.comments else []
            if fd.is_repeated:
                param["style"] = "form"
                param["explode"] = True
                notes.append("Repeat the parameter for several values.")
            if fd.type == FD.TYPE_MESSAGE and message_of(fd).full_name == "google.protobuf.FieldMask":
                notes.append("Comma-separated field paths (camelCase or snake_case).")
            if notes:
                param["description"] = " ".join(notes)
            if field_behavior_pb2.REQUIRED in fd.GetOptions().Extensions[field_behavior_pb2.field_behavior]:
                param["required"] = True
            params.append(param)
        return params


def _leaf(message: Descriptor, field_path: str) -> FieldDescriptor:
    *parents, leaf = field_path.split(".")
    current = message
    for name in parents:
        current = message_of(current.fields_by_name[name])
    return current.fields_by_name[leaf]


def _path_param(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def _camel(path: str) -> str:
    return re.sub(r"[._]([a-z0-9])", lambda m: m.group(1).upper(), path)


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if re.search(r"(ss|x|ch|sh)es$", word):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


_SCALARS: dict[int, Schema] = {
    FD.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FD.TYPE_FLOAT: {"type": "number", "format": "float"},
    FD.TYPE_INT32: {"type": "integer", "format": "int32"},
    FD.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FD.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FD.TYPE_UINT32: {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
    FD.TYPE_FIXED32: {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
    # 64-bit integers are JSON strings (json_format), so clients keep full precision.
    FD.TYPE_INT64: {"type": "string", "format": "int64"},
    FD.TYPE_SINT64: {"type": "string", "format": "int64"},
    FD.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    FD.TYPE_UINT64: {"type": "string", "format": "uint64"},
    FD.TYPE_FIXED64: {"type": "string", "format": "uint64"},
    FD.TYPE_BOOL: {"type": "boolean"},
    FD.TYPE_STRING: {"type": "string"},
    FD.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}

_WRAPPED = {
    "google.protobuf.DoubleValue": FD.TYPE_DOUBLE,
    "google.protobuf.FloatValue": FD.TYPE_FLOAT,
    "google.protobuf.Int64Value": FD.TYPE_INT64,
    "google.protobuf.UInt64Value": FD.TYPE_UINT64,
    "google.protobuf.Int32Value": FD.TYPE_INT32,
    "google.protobuf.UInt32Value": FD.TYPE_UINT32,
    "google.protobuf.BoolValue": FD.TYPE_BOOL,
    "google.protobuf.StringValue": FD.TYPE_STRING,
    "google.protobuf.BytesValue": FD.TYPE_BYTES,
}
assert set(_WRAPPED) == WRAPPERS


def _well_known_schema(message: Descriptor) -> Schema | None:
    name = message.full_name
    if name == "google.protobuf.Timestamp":
        return {"type": "string", "format": "date-time"}
    if name == "google.protobuf.Duration":
        return {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$", "examples": ["3.5s"]}
    if name == "google.protobuf.FieldMask":
        return {
            "type": "string",
            "description": "Comma-separated field paths.",
            "examples": ["givenName,tier"],
        }
    if name == "google.protobuf.Empty":
        return {"type": "object"}
    if name == "google.protobuf.Any":
        return {
            "type": "object",
            "properties": {"@type": {"type": "string"}},
            "required": ["@type"],
            "additionalProperties": True,
        }
    if name == "google.protobuf.Struct":
        return {"type": "object", "additionalProperties": True}
    if name == "google.protobuf.Value":
        return {}
    if name == "google.protobuf.ListValue":
        return {"type": "array", "items": {}}
    if name in _WRAPPED:
        inner = dict(_SCALARS[_WRAPPED[name]])
        inner["type"] = [inner["type"], "null"]
        return inner
    return None


def build_openapi(
    operations: list[Operation],
    *,
    comments: dict[str, str] | None = None,
    title: str = "Atelier API",
    version: str = "v1",
) -> Schema:
    builder = _Builder(comments=dict(comments or {}))
    for op in operations:
        builder.learn_resources(op.method.containing_service.file)
    paths: dict[str, Schema] = {}
    tags: dict[str, Schema] = {}
    for op in operations:
        service = op.method.containing_service
        tags.setdefault(
            service.name,
            {
                "name": service.name,
                "description": " ".join(
                    filter(
                        None,
                        [
                            builder.comments.get(service.full_name),
                            f"`{service.full_name}` ({op.backend} service).",
                        ],
                    )
                ),
            },
        )
        request = op.method.input_type
        path, parameters = builder.path_for(op.binding.template, request)
        path_fields = set(op.path_fields)
        if op.binding.body != "*":
            skip = set(path_fields)
            if op.body_field is not None:
                skip.add(op.body_field.name)
            parameters = parameters + builder.query_params(request, skip)
        operation: Schema = {
            "operationId": _unique_operation_id(paths, op),
            "summary": _words(op.method.name),
            "description": "\n\n".join(
                filter(
                    None,
                    [
                        builder.comments.get(op.method.full_name),
                        f"gRPC `{op.method.full_name}`, rule `{op.binding.method} {op.binding.template.text}`.",
                    ],
                )
            ),
            "tags": [service.name],
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": _response_schema(builder, op)}},
                },
                "default": {
                    "description": "Error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        }
        body_schema = _request_body_schema(builder, op)
        if body_schema is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body_schema}},
            }
        paths.setdefault(path, {})[op.binding.method.lower()] = operation
    builder.schemas["Error"] = ERROR_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": INTRO},
        "servers": [{"url": "/"}],
        "tags": sorted(tags.values(), key=lambda t: t["name"]),
        # Declaration order of the protos, which reads better than alphabetical.
        "paths": paths,
        "components": {
            "schemas": dict(sorted(builder.schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{"bearer": []}],
    }


def _unique_operation_id(paths: Schema, op: Operation) -> str:
    # Additional bindings of one RPC need distinct ids.
    taken = {o["operationId"] for item in paths.values() for o in item.values()}
    candidate, n = op.operation_id, 2
    while candidate in taken:
        candidate, n = f"{op.operation_id}{n}", n + 1
    return candidate


def _words(name: str) -> str:
    spaced = re.sub(r"(?<!^)(?=[A-Z])", " ", name)
    return spaced[:1] + spaced[1:].lower()


def _request_body_schema(builder: _Builder, op: Operation) -> Schema | None:
    if not op.binding.body:
        return None
    if op.body_field is not None:
        return builder.field_schema(op.body_field)
    top_level_path_fields = frozenset(p for p in op.path_fields if "." not in p)
    if not top_level_path_fields:
        return builder.ref_for_message(op.method.input_type)
    # The path carries some fields, so the body is the request without them.
    return builder.message_schema(op.method.input_type, exclude=top_level_path_fields)


def _response_schema(builder: _Builder, op: Operation) -> Schema:
    if op.response_field is not None:
        return builder.field_schema(op.response_field)
    return builder.ref_for_message(op.method.output_type)
