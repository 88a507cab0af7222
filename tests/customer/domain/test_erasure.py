"""What erasure does per table (services/customer/domain/erasure.py), no database."""

from __future__ import annotations

import pytest

from servicekit.errors import FailedPrecondition, Violations
from services.customer.domain import erasure


def test_the_plan_covers_the_tables_present_in_rule_order():
    plan = erasure.plan(["notes", "purchases", "interactions", "contact_points", "erasures"])
    assert plan == erasure.Plan(delete=("contact_points", "notes"), blank=("interactions",))


def test_a_table_without_a_rule_refuses_the_erasure():
    with pytest.raises(FailedPrecondition) as refused:
        erasure.plan(["notes", "wishlists", "loyalty_cards"])
    assert refused.value.reason == "ERASURE_RULE_MISSING"
    assert refused.value.metadata == {"tables": "wishlists,loyalty_cards"}


def test_every_rule_is_for_one_table_only():
    tables = [*erasure.DELETE, *erasure.BLANK, *erasure.KEEP]
    assert len(tables) == len(set(tables))


def test_the_reason_is_required_and_bounded():
    violations = Violations()
    assert erasure.read_reason("  art. 17   request\n", violations) == "art. 17 request"
    assert violations.items == []
    for bad in ("   ", "x" * 501):
        violations = Violations()
        erasure.read_reason(bad, violations)
        assert [f for f, _ in violations.items] == ["reason"]
