"""Checks every request gets before any servicer sees it (run by the interceptor).

A NUL character (U+0000) is valid in a protobuf string but PostgreSQL text cannot hold
it; left to reach SQL it becomes an internal error. Any string field of any request
(nested messages, repeated fields, map keys and values included) carrying one is
INVALID_ARGUMENT naming the field path in AIP-193 style: `customer.given_name`,
`contact_points[1].value`, `labels["key"]`.

The walk costs nothing for ordinary requests: a NUL character in a string field is a 0x00
byte in the wire form, so a request whose bytes hold no 0x00 is never walked (other
fields produce 0x00 bytes too, so bytes holding one are walked to be sure).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from servicekit.errors import InvalidArgument

NUL = "\x00"
NUL_DESCRIPTION = "must not contain NUL (U+0000) characters"

_STRING = FieldDescriptor.TYPE_STRING
_MESSAGE = FieldDescriptor.TYPE_MESSAGE


def may_hold_nul(wire: bytes) -> bool:
    """False when the serialized request certainly has no NUL in any string."""
    return b"\x00" in wire


def nul_violations(message: Message, prefix: str = "") -> list[tuple[str, str]]:
    """(field path, description) for every string in `message` that holds a NUL."""
    found: list[tuple[str, str]] = []
    _walk(message, prefix, found)
    return found


def check_no_nul(message: Message) -> None:
    """INVALID_ARGUMENT naming each field of `message` whose string holds a NUL."""
    found = nul_violations(message)
    if found:
        raise InvalidArgument(found)


def _key(value: object) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value)


def _walk(message: Message, prefix: str, found: list[tuple[str, str]]) -> None:
    for field, value in message.ListFields():
        path = prefix + field.name
        if field.type == _STRING:
            if field.is_repeated:
                found.extend((f"{path}[{i}]", NUL_DESCRIPTION) for i, item in enumerate(value) if NUL in item)
            elif NUL in value:
                found.append((path, NUL_DESCRIPTION))
        elif field.type == _MESSAGE:
            entry = field.message_type
            if entry is not None and entry.GetOptions().map_entry:
                _walk_map(field, value, path, found)
            elif field.is_repeated:
                for i, item in enumerate(value):
                    _walk(item, f"{path}[{i}].", found)
            else:
                _walk(value, path + ".", found)


def _walk_map(
    field: FieldDescriptor, entries: Mapping[object, object], path: str, found: list[tuple[str, str]]
) -> None:
    for key, item in entries.items():
        entry_path = f"{path}[{_key(key)}]"
        if isinstance(key, str) and NUL in key:
            found.append((entry_path, NUL_DESCRIPTION))
        if isinstance(item, str) and NUL in item:
            found.append((entry_path, NUL_DESCRIPTION))
        elif isinstance(item, Message):
            _walk(item, entry_path + ".", found)
