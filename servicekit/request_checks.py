"""Checks every request gets before any servicer sees it (run by the interceptor).

Each finding is INVALID_ARGUMENT naming the field path in AIP-193 style:
`customer.given_name`, `contact_points[1].value`, `labels["key"]`; nested messages,
repeated fields, map keys and values included.

* NUL (U+0000) in a string: valid in protobuf, but PostgreSQL text cannot hold it; left to
  reach SQL it becomes an internal error.
* A google.protobuf.Timestamp outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999999Z
  or with nanos outside 0..999,999,999: no datetime can hold it, so converting it fails.
* An enum number the enum does not define (proto3 enums are open and keep any number).
* A string that is not UTF-8: the protobuf parser refuses the whole message without a
  field name (`undecodable_violations` finds the field in the wire form).

The walk costs next to nothing for ordinary requests: a NUL character in a string field is
a 0x00 byte in the wire form, so strings are only looked at when the bytes hold a 0x00
(other fields produce 0x00 bytes too, so bytes holding one are walked to be sure); the
Timestamp and enum checks only descend into fields whose message type can reach a
Timestamp or an enum (worked out once per type), so a request type without any is never
walked.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from typing import cast

from google.protobuf import timestamp_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from servicekit.errors import InvalidArgument

NUL = "\x00"
NUL_DESCRIPTION = "must not contain NUL (U+0000) characters"
TIMESTAMP_DESCRIPTION = "must be a time between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999999Z"
NANOS_DESCRIPTION = "nanos must be between 0 and 999,999,999"
UTF8_DESCRIPTION = "must be valid UTF-8"

# The range RFC 3339 (and google.protobuf.Timestamp) allows.
MIN_SECONDS = -62_135_596_800  # 0001-01-01T00:00:00Z
MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
MAX_NANOS = 999_999_999

_STRING = FieldDescriptor.TYPE_STRING
_MESSAGE = FieldDescriptor.TYPE_MESSAGE
_ENUM = FieldDescriptor.TYPE_ENUM
_TIMESTAMP = timestamp_pb2.Timestamp.DESCRIPTOR.full_name

Found = list[tuple[str, str]]


def may_hold_nul(wire: bytes) -> bool:
    """False when the serialized request certainly has no NUL in any string."""
    return b"\x00" in wire


def request_violations(message: Message, strings: bool) -> Found:
    """(field path, description) for every field of `message` failing a request check;
    strings are looked at only when `strings` (see may_hold_nul)."""
    found: Found = []
    if strings or _class_holds_checked_values(type(message)):
        _walk(message, "", found, strings)
    return found


def nul_violations(message: Message, prefix: str = "") -> Found:
    """(field path, description) for every failing field of `message`, strings included."""
    found: Found = []
    _walk(message, prefix, found, True)
    return found


def check_no_nul(message: Message) -> None:
    """INVALID_ARGUMENT naming each field of `message` failing a request check."""
    found = nul_violations(message)
    if found:
        raise InvalidArgument(found)


# -- which message types hold Timestamps or enums, once per type

_CHECKED: dict[str, bool] = {}
_CHECKED_CLASSES: dict[type[Message], bool] = {}


def _class_holds_checked_values(message_class: type[Message]) -> bool:
    known = _CHECKED_CLASSES.get(message_class)
    if known is None:
        known = _CHECKED_CLASSES[message_class] = _holds_checked_values(_descriptor(message_class))
    return known


def _descriptor(message_class: type[Message]) -> Descriptor:
    # The stubs type DESCRIPTOR as the union of the pure-Python and upb descriptors,
    # which offer the same interface.
    return cast(Descriptor, message_class.DESCRIPTOR)


def _holds_checked_values(message: Descriptor) -> bool:
    known = _CHECKED.get(message.full_name)
    if known is None:
        known = _CHECKED[message.full_name] = _reaches_checked_values(message)
    return known


def _reaches_checked_values(root: Descriptor) -> bool:
    seen = {root.full_name}
    pending = [root]
    while pending:
        message = pending.pop()
        if message.full_name == _TIMESTAMP:
            return True
        for field in message.fields:
            if field.type == _ENUM:
                return True
            child = field.message_type
            if field.type == _MESSAGE and child is not None and child.full_name not in seen:
                seen.add(child.full_name)
                pending.append(child)
    return False


# -- the walk


def _key(value: object) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value)


def _check_timestamp(stamp: timestamp_pb2.Timestamp, path: str, found: Found) -> None:
    if not 0 <= stamp.nanos <= MAX_NANOS:
        found.append((path, NANOS_DESCRIPTION))
    elif not MIN_SECONDS <= stamp.seconds <= MAX_SECONDS:
        found.append((path, TIMESTAMP_DESCRIPTION))


def _enum_problem(field: FieldDescriptor, number: int) -> str | None:
    enum = field.enum_type
    if enum is None or number in enum.values_by_number:
        return None
    return f"{number} is not a value of {enum.full_name}"


def _walk(message: Message, prefix: str, found: Found, strings: bool) -> None:
    if isinstance(message, timestamp_pb2.Timestamp):
        _check_timestamp(message, prefix.removesuffix("."), found)
        return
    for field, value in message.ListFields():
        path = prefix + field.name
        if field.type == _STRING:
            if not strings:
                continue
            if field.is_repeated:
                found.extend((f"{path}[{i}]", NUL_DESCRIPTION) for i, item in enumerate(value) if NUL in item)
            elif NUL in value:
                found.append((path, NUL_DESCRIPTION))
        elif field.type == _ENUM:
            numbers = enumerate(value) if field.is_repeated else [(None, value)]
            for i, number in numbers:
                problem = _enum_problem(field, number)
                if problem is not None:
                    found.append((path if i is None else f"{path}[{i}]", problem))
        elif field.type == _MESSAGE:
            entry = field.message_type
            if entry is None or not (strings or _holds_checked_values(entry)):
                continue
            if entry.GetOptions().map_entry:
                _walk_map(entry, value, path, found, strings)
            elif field.is_repeated:
                for i, item in enumerate(value):
                    _walk(item, f"{path}[{i}].", found, strings)
            else:
                _walk(value, path + ".", found, strings)


def _walk_map(entry: Descriptor, entries: Mapping[object, object], path: str, found: Found, strings: bool) -> None:
    value_field = entry.fields_by_name["value"]
    for key, item in entries.items():
        entry_path = f"{path}[{_key(key)}]"
        if strings and isinstance(key, str) and NUL in key:
            found.append((entry_path, NUL_DESCRIPTION))
        if isinstance(item, str):
            if strings and NUL in item:
                found.append((entry_path, NUL_DESCRIPTION))
        elif isinstance(item, Message):
            _walk(item, entry_path + ".", found, strings)
        elif value_field.type == _ENUM and isinstance(item, int):
            problem = _enum_problem(value_field, item)
            if problem is not None:
                found.append((entry_path, problem))


# -- requests the protobuf parser refuses


class _Malformed(Exception):
    """The wire form ends or breaks where a field should be."""


def undecodable_violations(parse: Callable[[bytes], object], wire: bytes) -> Found:
    """The fields naming why `parse` (a message class's FromString) refused `wire`: each
    string that is not UTF-8; the request as a whole when nothing more precise is found."""
    message_class = getattr(parse, "__self__", None)
    found: Found = []
    if isinstance(message_class, type) and issubclass(message_class, Message):
        with contextlib.suppress(_Malformed):
            _utf8_walk(_descriptor(message_class), wire, "", found)
    return found or [("", "the request is not a valid protobuf message of its type")]


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise _Malformed
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _wire_fields(data: bytes) -> list[tuple[int, int, bytes | int]]:
    """(field number, wire type, bytes of a length-delimited field or the number) in order."""
    fields: list[tuple[int, int, bytes | int]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = _varint(data, pos)
            fields.append((number, wire_type, value))
        elif wire_type == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise _Malformed
            fields.append((number, wire_type, data[pos : pos + length]))
            pos += length
        elif wire_type in (1, 5):
            pos += 8 if wire_type == 1 else 4
        else:  # groups (proto2 only) or garbage: nothing more to learn
            raise _Malformed
    return fields


def _bad_utf8(chunk: bytes) -> bool:
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _utf8_walk(message: Descriptor, data: bytes, prefix: str, found: Found) -> None:
    seen: dict[int, int] = {}
    for number, wire_type, value in _wire_fields(data):
        field = message.fields_by_number.get(number)
        if field is None or wire_type != 2 or not isinstance(value, bytes):
            continue
        index = seen[number] = seen.get(number, -1) + 1
        path = prefix + field.name
        if field.is_repeated:
            path = f"{path}[{index}]"
        if field.type == _STRING and _bad_utf8(value):
            found.append((path, UTF8_DESCRIPTION))
        elif field.type == _MESSAGE and field.message_type is not None:
            if field.message_type.GetOptions().map_entry:
                _utf8_map_entry(field.message_type, value, prefix + field.name, found)
            else:
                _utf8_walk(field.message_type, value, path + ".", found)


def _utf8_map_entry(entry: Descriptor, data: bytes, path: str, found: Found) -> None:
    key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
    key: object = "" if key_field.type == _STRING else 0
    value: bytes | None = None
    for number, _, item in _wire_fields(data):
        if number == 1:
            if isinstance(item, bytes):
                if _bad_utf8(item):
                    found.append((path, "a key " + UTF8_DESCRIPTION))
                    return
                key = item.decode("utf-8")
            else:
                key = item
        elif number == 2 and isinstance(item, bytes):
            value = item
    if value is None:
        return
    entry_path = f"{path}[{_key(key)}]"
    if value_field.type == _STRING and _bad_utf8(value):
        found.append((entry_path, UTF8_DESCRIPTION))
    elif value_field.type == _MESSAGE and value_field.message_type is not None:
        _utf8_walk(value_field.message_type, value, entry_path + ".", found)
