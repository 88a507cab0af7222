"""What makes an interaction acceptable (services/customer/domain/interactions.py), no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from servicekit.errors import Violations
from services.customer.domain import interactions
from services.customer.domain.channels import Channel
from services.customer.domain.interactions import Direction, InteractionInput, InteractionKind

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def read(given: InteractionInput) -> tuple[interactions.NewInteraction, list[str]]:
    violations = Violations()
    new = interactions.read(given, "interaction.", violations, NOW)
    return new, [f for f, _ in violations.items]


def test_a_message_travels_on_a_channel_in_one_direction():
    new, fields = read(
        InteractionInput(
            kind=InteractionKind.MESSAGE,
            channel=Channel.WHATSAPP,
            direction=Direction.INBOUND,
            preview="  Bonjour  ",
            external_id=" wamid-1 ",
            occur_time=NOW - timedelta(minutes=1),
        )
    )
    assert fields == []
    assert (new.preview, new.external_id) == ("Bonjour", "wamid-1")
    _, fields = read(InteractionInput(kind=InteractionKind.CALL, occur_time=NOW))
    assert fields == ["interaction.channel", "interaction.direction"]


def test_every_bad_field_of_an_interaction_is_named():
    _, fields = read(
        InteractionInput(
            kind=InteractionKind.QR_SCAN,
            channel=99,
            direction=7,
            store="paris",
            associate="a-1",
            occur_time=NOW + timedelta(hours=1),
        )
    )
    assert fields == [
        "interaction.channel",
        "interaction.direction",
        "interaction.store",
        "interaction.associate",
        "interaction.referral_code",
        "interaction.occur_time",
    ]
    _, fields = read(InteractionInput())
    assert fields == ["interaction.kind", "interaction.occur_time"]


def test_a_store_visit_needs_neither_channel_nor_direction_and_no_external_id_is_none():
    new, fields = read(InteractionInput(kind=InteractionKind.STORE_VISIT, occur_time=NOW))
    assert fields == [] and new.external_id is None
