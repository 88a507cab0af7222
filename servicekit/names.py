"""Resource names (AIP-122): `customers/{customer}`, `customers/{customer}/notes/{note}`."""

from __future__ import annotations

import re
import uuid

from servicekit.errors import invalid

# \A and \Z (not ^ and $): `$` also matches before a final newline, which would let
# `customers/abc\n` through wherever the pattern is used with match().
ID_PATTERN = re.compile(r"\A[a-z0-9][a-z0-9-]{2,62}\Z")


def new_id() -> str:
    return str(uuid.uuid4())


def parse(name: str, collection: str, field: str) -> str:
    """The id in `<collection>/<id>`; INVALID_ARGUMENT naming `field` otherwise."""
    prefix = collection + "/"
    if not name:
        raise invalid(field, f"required, e.g. {collection}/abc-123")
    resource_id = name[len(prefix) :]
    if not name.startswith(prefix) or not ID_PATTERN.fullmatch(resource_id):
        raise invalid(field, f"must look like {collection}/<id>")
    return resource_id
