"""Who may export a customer's data from the associate service, and what her erasure does
with stored replies (services/associate/domain/privacy.py), no database."""

from __future__ import annotations

import pytest

from servicekit.auth import Principal, Role
from servicekit.errors import FailedPrecondition, NotFound, PermissionDenied
from services.associate.domain import privacy
from services.associate.domain.access import CustomerFacts

HER = CustomerFacts(
    name="customers/c-1",
    known=True,
    home_store="stores/s1",
    holders=frozenset({"a1"}),
    holder_stores=frozenset({"stores/s1"}),
)
NOBODY = CustomerFacts(name="customers/c-2", known=False)
HQ = Principal("staff/hq", Role.HQ)
SERVICE = Principal("services/x", Role.SERVICE)
HER_MANAGER = Principal("staff/m1", Role.MANAGER, associate_id="m1", store="stores/s1")
OTHER_MANAGER = Principal("staff/m2", Role.MANAGER, associate_id="m2", store="stores/s2")
HOLDER = Principal("associates/a1", Role.ASSOCIATE, associate_id="a1", store="stores/s1")


def test_headquarters_services_and_her_manager_export_associates_never():
    for caller in (HQ, SERVICE, HER_MANAGER):
        privacy.check_export(caller, HER)
    for caller in (OTHER_MANAGER, HOLDER):
        with pytest.raises(PermissionDenied):
            privacy.check_export(caller, HER)


def test_a_manager_of_a_store_only_holding_her_gets_what_a_stranger_gets():
    """Whom ExportCustomer answers: her home store's manager, not one reaching her through a secondary."""
    held_elsewhere = CustomerFacts(
        name="customers/c-1",
        known=True,
        home_store="stores/s1",
        holders=frozenset({"a1", "b2"}),
        holder_stores=frozenset({"stores/s1", "stores/s2"}),
    )
    stranger = CustomerFacts(name="customers/c-1", known=True, home_store="stores/s3")
    denials = []
    for her in (held_elsewhere, stranger):
        with pytest.raises(PermissionDenied) as denied:
            privacy.check_export(OTHER_MANAGER, her)
        denials.append((denied.value.reason, str(denied.value), denied.value.metadata))
    assert denials[0] == denials[1]
    privacy.check_export(HER_MANAGER, held_elsewhere)
    for caller in (HQ, SERVICE):
        privacy.check_export(caller, held_elsewhere)
        privacy.check_export(caller, stranger)
    # A customer without a home store is headquarters'.
    with pytest.raises(PermissionDenied):
        privacy.check_export(
            HER_MANAGER,
            CustomerFacts(
                name="customers/c-1", known=True, holders=frozenset({"a1"}), holder_stores=frozenset({"stores/s1"})
            ),
        )


def test_someone_never_heard_of_is_not_found_for_headquarters_only():
    with pytest.raises(NotFound):
        privacy.check_export(HQ, NOBODY)
    for caller in (HER_MANAGER, HOLDER):
        with pytest.raises(PermissionDenied):
            privacy.check_export(caller, NOBODY)


def test_stored_replies_are_withdrawn_or_kept_by_method_and_unknown_ones_refuse():
    assert all(privacy.withdraws_reply(m) for m in ("CreateTask", "ClaimClient", "TransferClient"))
    assert not any(privacy.withdraws_reply(m) for m in ("CreateStore", "CreateAssociate"))
    with pytest.raises(FailedPrecondition) as refused:
        privacy.withdraws_reply("CreateWishlist")
    assert refused.value.reason == "ERASURE_RULE_MISSING"


def test_every_idempotent_create_of_the_service_has_a_reply_rule():
    import re
    from pathlib import Path

    usecases = Path(privacy.__file__).resolve().parents[1] / "usecases"
    source = "\n".join(f.read_text() for f in usecases.glob("*.py"))
    methods = set(re.findall(r'Idempotent\(\s*"(\w+)"', source))
    assert methods == {*privacy.WITHDRAW_REPLIES, *privacy.KEEP_REPLIES}
