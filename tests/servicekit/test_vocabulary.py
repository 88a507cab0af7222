"""The contract enums services share (servicekit.vocabulary) are the protos', name for
name and number for number, UNSPECIFIED included: domain code reads plain ints off the
wire, the tables and events, so a value added to one of these proto enums must be added
there too, or this test fails."""

from __future__ import annotations

import ast
from enum import IntEnum
from pathlib import Path

import pytest
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from atelier.customer.v1 import customer_pb2, interaction_pb2
from servicekit import vocabulary


@pytest.mark.parametrize(
    ("shared", "contract", "prefix"),
    [
        (vocabulary.Tier, customer_pb2.Tier, "TIER_"),
        (vocabulary.ImportantDateKind, customer_pb2.ImportantDateKind, "IMPORTANT_DATE_KIND_"),
        (vocabulary.InteractionKind, interaction_pb2.InteractionKind, "INTERACTION_KIND_"),
        (vocabulary.Direction, interaction_pb2.Direction, "DIRECTION_"),
    ],
    ids=lambda v: getattr(v, "__name__", "") if isinstance(v, type) else "",
)
def test_a_shared_enum_is_the_contracts(shared: type[IntEnum], contract: EnumTypeWrapper, prefix: str):
    assert {prefix + member.name: int(member) for member in shared} == dict(contract.items())


def test_the_vocabulary_is_pure():
    """Domain modules import it: nothing but the standard enum (no protobuf, no grpc)."""
    tree = ast.parse(Path(vocabulary.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert imported == {"__future__", "enum"}
