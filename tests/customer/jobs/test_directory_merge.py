"""The directory sync's merge rule (domain/directory.py: reconciled_staff,
reconciled_store) and its reading of the associate service's answers (jobs/
directory_sync.py): an answer applies as the events of the change it shows would, so an
older answer never overwrites a newer event, a departure is final, and an answer the
directory already shows writes nothing. Pure: no servers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from atelier.associate.v1 import associate_pb2, store_pb2
from atelier.events.v1 import associate_events_pb2 as ev
from servicekit.events import unpack
from services.associate.messages import events as associate_events
from services.customer.domain.directory import StaffRecord, reconciled_staff, reconciled_store, referral_key
from services.customer.jobs.directory_sync import staff_entry, store_entry

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=5)
EARLIER = T0 - timedelta(minutes=5)


def record(status: str = "active", when: datetime = T0, **fields: str) -> StaffRecord:
    values = {"store": "stores/paris", "role": "associate", "referral_code": "K7X", **fields}
    return StaffRecord(
        associate_id="a-1",
        store=values["store"],
        role=values["role"],
        status=status,
        referral_code=values["referral_code"],
        change_time=when,
    )


# -- members of staff ----------------------------------------------------------------


def test_an_associate_the_directory_never_heard_of_is_taken_as_answered():
    entry = record()
    assert reconciled_staff(None, entry) == entry


def test_a_departed_associate_never_heard_of_is_kept_whole():
    # Her store, role and code as the associate service has them (the events of her
    # creation would have said as much), departed.
    entry = record("departed")
    assert reconciled_staff(None, entry) == entry


def test_a_newer_answer_replaces_what_the_events_left():
    current = record(when=EARLIER)
    entry = record("on_leave", LATER, store="stores/lyon", role="manager")
    assert reconciled_staff(current, entry) == entry


def test_an_older_answer_never_overwrites_a_newer_event():
    current = record("on_leave", LATER, store="stores/lyon")
    assert reconciled_staff(current, record(when=EARLIER)) is None


def test_an_answer_the_directory_already_shows_writes_nothing():
    current = record(when=T0)
    assert reconciled_staff(current, record(when=T0)) is None
    # The event of a change is stamped after its update_time (same transaction): the
    # answer for the change an event already applied looks older and changes nothing.
    assert reconciled_staff(record(when=LATER), record(when=T0)) is None


def test_an_answer_saying_active_never_revives_a_departed_associate():
    current = record("departed", EARLIER)
    assert reconciled_staff(current, record("active", LATER)) is None


def test_a_departure_in_an_answer_is_final_even_when_dated_before_the_last_event():
    # Clocks that disagree: the departure looks older than an update the events carried.
    current = record("active", LATER, store="stores/lyon")
    kept = reconciled_staff(current, record("departed", EARLIER))
    assert kept == replace(current, status="departed")


def test_a_newer_departure_takes_the_answer_whole():
    current = record("active", EARLIER)
    entry = record("departed", LATER, store="stores/lyon")
    assert reconciled_staff(current, entry) == entry


def test_a_departure_the_directory_already_knows_writes_nothing():
    current = record("departed", LATER)
    assert reconciled_staff(current, record("departed", EARLIER)) is None


# -- stores --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "entry", "written"),
    [(None, T0, True), (EARLIER, T0, True), (T0, T0, False), (LATER, T0, False)],
    ids=["unknown", "newer", "same", "older"],
)
def test_a_store_is_written_when_unknown_or_newer(current, entry, written):
    assert reconciled_store(current, entry) is written


# -- reading the associate service's answers ------------------------------------------


def stamped(message, when: datetime):
    message.create_time.FromDatetime(when - timedelta(days=90))
    message.update_time.FromDatetime(when)
    return message


@pytest.mark.parametrize("role", [1, 2, 3, 0, 42], ids=["associate", "manager", "hq", "unspecified", "unknown"])
@pytest.mark.parametrize("status", [1, 2, 3, 0], ids=["active", "on_leave", "departed", "unspecified"])
def test_an_answer_reads_as_the_associate_services_events_say_it(role, status):
    """The words of ListAssociates' entries are those of the associate service's own
    associate_updated event for the same associate."""
    associate = stamped(
        associate_pb2.Associate(
            name="associates/a-9",
            store="stores/ginza",
            display_name="Aiko",
            role=role,
            status=status,
            referral_code="qr-ab 12",
        ),
        T0,
    )
    envelope = associate_events.associate_changed(associate, "test", created=False)
    event = unpack(envelope, ev.AssociateChanged)
    assert isinstance(event, ev.AssociateChanged)
    assert staff_entry(associate) == StaffRecord(
        associate_id="a-9",
        store=event.store,
        role=event.role,
        status=event.status,
        referral_code=referral_key(event.referral_code),
        change_time=T0,
    )


def test_an_undated_answer_is_older_than_any_event():
    entry = staff_entry(associate_pb2.Associate(name="associates/a-9", store="stores/ginza", role=1, status=1))
    assert entry is not None
    assert entry.change_time == datetime(1970, 1, 1, tzinfo=UTC)
    assert reconciled_staff(record(when=EARLIER), replace(entry, associate_id="a-1")) is None


def test_a_store_answer_is_its_name_and_update_time():
    assert store_entry(stamped(store_pb2.Store(name="stores/ginza", code="G1"), T0)) == ("stores/ginza", T0)


@pytest.mark.parametrize("name", ["", "associates/", "stores/a-1", "a-1"])
def test_an_answer_naming_no_associate_is_skipped(name):
    assert staff_entry(associate_pb2.Associate(name=name)) is None


@pytest.mark.parametrize("name", ["", "stores/", "associates/x", "paris"])
def test_an_answer_naming_no_store_is_skipped(name):
    assert store_entry(store_pb2.Store(name=name)) is None
