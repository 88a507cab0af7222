"""The consent rule (services/customer/domain/consent.py), no database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from servicekit.errors import Violations
from services.customer.domain import consent
from services.customer.domain.channels import Channel
from services.customer.domain.consent import Answer, Purpose

WHEN = datetime(2026, 3, 1, tzinfo=UTC)


def answer(channel: int, purpose: int, granted: bool) -> Answer:
    return Answer(channel, purpose, granted, "web-form", "staff/x", WHEN)


def test_a_choice_is_read_with_its_source_trimmed():
    violations = Violations()
    choice = consent.read_choice(Channel.SMS, Purpose.MARKETING, True, "  boutique  ", violations)
    assert violations.items == []
    assert choice == consent.Choice(Channel.SMS, Purpose.MARKETING, True, "boutique")


@pytest.mark.parametrize(
    ("channel", "purpose", "source", "fields"),
    [
        (0, 0, "", ["channel", "purpose", "source"]),
        (42, 42, "x", ["channel", "purpose"]),
        (Channel.EMAIL, Purpose.SERVICE, "   ", ["source"]),
        (Channel.EMAIL, Purpose.SERVICE, "s" * 65, ["source"]),
    ],
)
def test_a_choice_needs_a_known_channel_a_known_purpose_and_a_source(channel, purpose, source, fields):
    violations = Violations()
    consent.read_choice(channel, purpose, False, source, violations)
    assert [f for f, _ in violations.items] == fields
    assert all(description for _, description in violations.items)


def test_her_consent_is_her_answer_for_that_channel_and_purpose():
    current = [answer(Channel.SMS, Purpose.MARKETING, True), answer(Channel.EMAIL, Purpose.MARKETING, False)]
    assert consent.answer_for(current, Channel.SMS, Purpose.MARKETING) is True
    assert consent.answer_for(current, Channel.EMAIL, Purpose.MARKETING) is False
    assert consent.answer_for(current, Channel.SMS, Purpose.SERVICE) is None


def test_no_answer_is_no_consent():
    assert consent.is_granted(True)
    assert not consent.is_granted(False)
    assert not consent.is_granted(None)
    assert consent.GRANTED_WHEN_UNANSWERED is False


@pytest.mark.parametrize(
    ("before", "granted", "changed"),
    [
        (None, True, True),  # a first yes
        (None, False, True),  # a first no is an answer too
        (True, True, False),  # the same answer again: history only
        (False, False, False),
        (True, False, True),
        (False, True, True),
    ],
)
def test_an_event_only_when_the_answer_changed(before, granted, changed):
    assert consent.changes(before, granted) is changed


def test_an_audience_needing_a_consent_holds_those_who_said_yes():
    sms_marketing = consent.Requirement(Channel.SMS, Purpose.MARKETING)
    assert consent.meets(sms_marketing, [answer(Channel.SMS, Purpose.MARKETING, True)])
    assert not consent.meets(sms_marketing, [answer(Channel.SMS, Purpose.MARKETING, False)])
    assert not consent.meets(sms_marketing, [answer(Channel.SMS, Purpose.SERVICE, True)])
    assert not consent.meets(sms_marketing, [])


def test_a_requirement_names_its_fields_under_the_prefix():
    violations = Violations()
    required = consent.read_requirement(Channel.WHATSAPP, 0, "segment.consent.", violations)
    assert [f for f, _ in violations.items] == ["segment.consent.purpose"]
    assert required == consent.Requirement(Channel.WHATSAPP, 0)
