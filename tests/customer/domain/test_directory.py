"""The directory of stores and staff kept from the associate service's events
(services/customer/domain/directory.py), no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from servicekit.errors import Violations
from services.customer.domain import directory
from services.customer.domain.directory import Known, StaffRecord

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def staff(status: str = "active", at: datetime = T0, store: str = "stores/paris") -> StaffRecord:
    return StaffRecord("a-1", store, "associate", status, "QR7K2", at)


def test_the_first_event_of_an_associate_is_kept():
    assert directory.changed(None, staff()) == staff()


def test_a_later_event_replaces_an_earlier_one_and_an_older_one_changes_nothing():
    later = staff("on_leave", T0 + timedelta(seconds=5))
    assert directory.changed(staff(), later) == later
    assert directory.changed(later, staff()) is None
    # Two events of the same instant: the one applied last wins.
    same_time = staff(store="stores/lyon")
    assert directory.changed(staff(), same_time) == same_time


def test_a_departure_is_final():
    gone = directory.departed(staff(), "a-1", "stores/paris", T0 + timedelta(minutes=1))
    assert gone.status == "departed" and not gone.active
    assert (gone.store, gone.referral_code) == ("stores/paris", "QR7K2")
    assert directory.changed(gone, staff("active", T0 + timedelta(minutes=2))) is None
    assert directory.changed(gone, staff("departed", T0 + timedelta(minutes=2))) is not None


def test_a_departure_of_someone_unknown_is_recorded_and_never_goes_back_in_time():
    gone = directory.departed(None, "a-2", "stores/lyon", T0)
    assert (gone.associate_id, gone.store, gone.status) == ("a-2", "stores/lyon", "departed")
    known_later = staff(at=T0 + timedelta(hours=1))
    assert directory.departed(known_later, "a-1", "stores/paris", T0).change_time == known_later.change_time


def test_only_active_staff_are_active():
    assert staff().active
    assert not staff("on_leave").active
    assert not staff("departed").active
    assert not staff("").active


def test_store_events_apply_in_time_order():
    assert directory.store_changed(None, T0)
    assert directory.store_changed(T0, T0 + timedelta(seconds=1))
    assert not directory.store_changed(T0 + timedelta(seconds=1), T0)


def test_referral_codes_compare_as_the_associate_service_compares_them():
    assert directory.referral_key(" qr-7k 2 ") == "QR7K2"


def test_home_stores_and_referral_codes_must_be_known():
    known = Known(stores=frozenset({"stores/paris"}), referral_codes=frozenset({"QR7K2"}))
    violations = Violations()
    directory.check_home_store("stores/paris", known, "customer.home_store", violations)
    directory.check_home_store("", known, "customer.home_store", violations)
    directory.check_referral_code("qr-7k2", known, "customer.referral_code", violations)
    directory.check_referral_code("", known, "customer.referral_code", violations)
    assert not violations
    directory.check_home_store("stores/atlantis", known, "customer.home_store", violations)
    directory.check_referral_code("NOPE1", known, "customer.referral_code", violations)
    assert [field for field, _ in violations.items] == ["customer.home_store", "customer.referral_code"]
    assert "stores/atlantis" in violations.items[0][1]
