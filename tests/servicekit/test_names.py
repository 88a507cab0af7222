"""Resource names (servicekit.names): the id must be the whole remainder of the name."""

from __future__ import annotations

import pytest

from servicekit import names
from servicekit.errors import InvalidArgument


def test_a_well_formed_name_gives_its_id():
    assert names.parse("customers/abc-123", "customers", "name") == "abc-123"


@pytest.mark.parametrize(
    "name",
    [
        "customers/abc\n",  # `$` matches before a final newline: audit finding 15
        "customers/abc\r\n",
        "customers/abc-123\n",
        "stores/paris\n",
        "customers/ab",
        "customers/ABC",
        "customers/abc/notes/x",
        "customers/abc ",
        "customers/\nabc",
        "clients/abc",
    ],
)
def test_anything_around_the_id_is_refused(name):
    collection = name.split("/", 1)[0] if name.startswith("stores/") else "customers"
    with pytest.raises(InvalidArgument) as caught:
        names.parse(name, collection, "name")
    assert caught.value.violations[0][0] == "name"


def test_the_shared_id_pattern_refuses_a_trailing_newline_even_with_match():
    # Services use ID_PATTERN.match directly for client-chosen ids.
    assert names.ID_PATTERN.match("abc-123")
    assert names.ID_PATTERN.match("abc-123\n") is None
    assert names.ID_PATTERN.fullmatch("abc-123\n") is None
