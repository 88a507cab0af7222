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


def test_stored_replies_naming_her_are_withdrawn_or_kept_by_method():
    assert erasure.withdraws_reply("CreateCustomer") and erasure.withdraws_reply("CreateNote")
    assert not erasure.withdraws_reply("MergeCustomers")
    with pytest.raises(FailedPrecondition) as refused:
        erasure.withdraws_reply("CreateWishlist")
    assert refused.value.reason == "ERASURE_RULE_MISSING" and refused.value.metadata == {"method": "CreateWishlist"}


def test_every_idempotent_create_of_the_service_has_a_reply_rule():
    """A new Idempotent(...) method without a rule would refuse every erasure whose
    candidates include its replies: the rules name every method the use cases store."""
    import re
    from pathlib import Path

    usecases = Path(erasure.__file__).resolve().parents[1] / "usecases"
    methods = {m for f in usecases.glob("*.py") for m in re.findall(r'Idempotent\("(\w+)"', f.read_text())}
    assert methods == {*erasure.WITHDRAW_REPLIES, *erasure.KEEP_REPLIES}
