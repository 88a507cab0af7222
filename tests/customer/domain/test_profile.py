"""Profile validation and normalisation (services/customer/domain/profile.py), no database."""

from __future__ import annotations

from dataclasses import replace

import pytest

from servicekit.errors import Violations
from services.customer.domain import profile
from services.customer.domain.contacts import ContactKind as Kind
from services.customer.domain.profile import (
    ContactPoint,
    ImportantDate,
    ImportantDateKind,
    Preference,
    ProfileInput,
    Tier,
)

ALL = profile.UPDATABLE


def read(msg: ProfileInput, paths=ALL):
    violations = Violations()
    values = profile.read(msg, tuple(paths), "customer.", violations)
    return values, [f for f, _ in violations.items]


def fields_of(msg: ProfileInput, paths=ALL) -> list[str]:
    return read(msg, paths)[1]


def valid(**fields) -> ProfileInput:
    fields.setdefault("given_name", "Hélène")
    fields.setdefault("locale", "fr-FR")
    return ProfileInput(**fields)


def test_a_full_profile_is_normalised():
    msg = valid(
        family_name="  Laurent ",
        preferred_name="Mme   Laurent",
        home_store="stores/paris-faubourg",
        tier=Tier.VIP,
        contact_points=[
            ContactPoint(kind=Kind.PHONE, value="06 12 34 56 78"),
            ContactPoint(kind=Kind.EMAIL, value="Helene@Example.FR"),
            ContactPoint(kind=Kind.WHATSAPP, value="07 61 23 45 67"),
            ContactPoint(kind=Kind.WECHAT, value="Helene_88"),
        ],
        preferences=[Preference(category=" Ring_Size ", value=" 52 ")],
        important_dates=[ImportantDate(ImportantDateKind.BIRTHDAY, year=0, month=2, day=29)],
        tags=["Press", "high-jewellery", "press"],
    )
    values, violations = read(msg)
    assert violations == []
    assert values["given_name"] == "Hélène"
    assert values["family_name"] == "Laurent"
    assert values["preferred_name"] == "Mme Laurent"
    assert values["home_store"] == "stores/paris-faubourg"
    assert values["tier"] == Tier.VIP
    assert [(c.kind, c.value, c.primary) for c in values["contact_points"]] == [
        (Kind.PHONE, "+33612345678", True),
        (Kind.EMAIL, "helene@example.fr", True),
        (Kind.WHATSAPP, "+33761234567", True),
        (Kind.WECHAT, "helene_88", True),
    ]
    assert values["preferences"] == [{"category": "ring_size", "value": "52"}]
    assert values["important_dates"] == [
        {"kind": ImportantDateKind.BIRTHDAY, "year": 0, "month": 2, "day": 29, "label": ""}
    ]
    assert values["tags"] == ["press", "high-jewellery"]


def test_only_the_requested_paths_are_read():
    values, violations = read(valid(family_name="Laurent", locale="not a locale!"), ["family_name"])
    assert values == {"family_name": "Laurent"}
    assert violations == []


def test_names_longer_than_100_characters():
    assert fields_of(valid(given_name="x" * 101, family_name="y" * 100, preferred_name="z" * 101)) == [
        "customer.given_name",
        "customer.preferred_name",
    ]


@pytest.mark.parametrize("locale", ["fr-FR", "fr", "zh-Hans-CN", "es-419", "", "gsw-CH"])
def test_good_locales(locale):
    assert "customer.locale" not in fields_of(valid(locale=locale))


@pytest.mark.parametrize("locale", ["f", "fr_FR", "français", "fr-", "12-FR", "fr-FR-abcdefghi"])
def test_bad_locales(locale):
    assert fields_of(valid(locale=locale), ["locale"]) == ["customer.locale"]


@pytest.mark.parametrize(
    "store", ["paris", "stores/", "stores/Paris", "stores/paris/x", "store/paris", "stores/-paris"]
)
def test_bad_home_stores(store):
    assert fields_of(valid(home_store=store), ["home_store"]) == ["customer.home_store"]


def test_empty_home_store_is_accepted():
    assert fields_of(valid(home_store=""), ["home_store"]) == []


def test_unknown_tier():
    assert fields_of(valid(tier=42), ["tier"]) == ["customer.tier"]


def test_contact_point_rules_name_each_index():
    msg = valid(
        contact_points=[
            ContactPoint(kind=Kind.UNSPECIFIED, value="x@example.com"),
            ContactPoint(kind=Kind.PHONE, value="12"),
            ContactPoint(kind=Kind.EMAIL, value="a@example.com", primary=True),
            ContactPoint(kind=Kind.EMAIL, value="A@Example.com"),
            ContactPoint(kind=Kind.EMAIL, value="b@example.com", primary=True),
            ContactPoint(kind=77, value="b@example.com"),
        ]
    )
    assert fields_of(msg, ["contact_points"]) == [
        "customer.contact_points[0].kind",
        "customer.contact_points[1].value",
        "customer.contact_points[3].value",  # the same e-mail, spelled differently
        "customer.contact_points[4].primary",
        "customer.contact_points[5].kind",
    ]


def test_national_phone_needs_a_locale_with_a_region():
    msg = valid(locale="fr", contact_points=[ContactPoint(kind=Kind.PHONE, value="06 12 34 56 78")])
    assert fields_of(msg, ["contact_points"]) == ["customer.contact_points[0].value"]
    msg = replace(msg, locale="en-GB")
    assert fields_of(msg, ["contact_points"]) == ["customer.contact_points[0].value"]  # not a British number
    msg = replace(msg, contact_points=[ContactPoint(Kind.PHONE, "07911 123456")])
    values, violations = read(msg, ["contact_points"])
    assert violations == [] and values["contact_points"][0].value == "+447911123456"


def test_explicit_primary_wins_over_first_of_kind():
    msg = valid(
        contact_points=[
            ContactPoint(kind=Kind.EMAIL, value="a@example.com"),
            ContactPoint(kind=Kind.EMAIL, value="b@example.com", primary=True),
            ContactPoint(kind=Kind.PHONE, value="+33612345678"),
            ContactPoint(kind=Kind.PHONE, value="+33761234567"),
        ]
    )
    values, violations = read(msg, ["contact_points"])
    assert violations == []
    assert [c.primary for c in values["contact_points"]] == [False, True, True, False]


def test_too_many_contact_points():
    msg = valid(contact_points=[ContactPoint(kind=Kind.EMAIL, value=f"c{i}@example.com") for i in range(51)])
    assert fields_of(msg, ["contact_points"]) == ["customer.contact_points"]


def test_preference_rules():
    msg = valid(
        preferences=[
            Preference(category="ring size", value="52"),
            Preference(category="colour", value="   "),
            Preference(category="colour", value="x" * 101),
            Preference(category="9lives", value="cat"),
            Preference(category="colour", value="Navy  Blue"),
            Preference(category="COLOUR", value="navy blue"),  # duplicate, dropped
        ]
    )
    values, violations = read(msg, ["preferences"])
    assert violations == [
        "customer.preferences[0].category",
        "customer.preferences[1].value",
        "customer.preferences[2].value",
        "customer.preferences[3].category",
    ]
    assert values["preferences"] == [{"category": "colour", "value": "Navy Blue"}]


def _date(year, month, day, kind=ImportantDateKind.BIRTHDAY, label=""):
    return ImportantDate(kind, year, month, day, label)


@pytest.mark.parametrize(
    ("year", "month", "day"),
    [(0, 2, 29), (2024, 2, 29), (1900, 1, 1), (2100, 12, 31), (0, 12, 31), (1985, 4, 30)],
)
def test_calendar_dates_are_accepted(year, month, day):
    assert fields_of(valid(important_dates=[_date(year, month, day)]), ["important_dates"]) == []


@pytest.mark.parametrize(
    ("year", "month", "day"),
    [
        (2023, 2, 29),  # not a leap year
        (0, 2, 30),
        (2024, 2, 30),
        (1985, 4, 31),
        (1985, 13, 1),
        (1985, 0, 1),
        (1985, 1, 0),
        (1899, 1, 1),
        (2101, 1, 1),
        (-1, 1, 1),
        (10000, 2, 29),
        (0, 0, 0),
    ],
)
def test_impossible_dates_are_refused(year, month, day):
    assert fields_of(valid(important_dates=[_date(year, month, day)]), ["important_dates"]) == [
        "customer.important_dates[0].date"
    ]


def test_important_date_kind_and_label():
    msg = valid(
        important_dates=[
            _date(0, 5, 1, kind=ImportantDateKind.UNSPECIFIED),
            _date(0, 5, 1, kind=ImportantDateKind.OTHER, label="x" * 101),
            _date(2010, 6, 12, kind=ImportantDateKind.OTHER, label="daughter's graduation"),
        ]
    )
    values, violations = read(msg, ["important_dates"])
    assert violations == ["customer.important_dates[0].kind", "customer.important_dates[1].label"]
    assert values["important_dates"] == [
        {
            "kind": ImportantDateKind.OTHER,
            "year": 2010,
            "month": 6,
            "day": 12,
            "label": "daughter's graduation",
        }
    ]


def test_tag_rules():
    values, violations = read(valid(tags=["VIP", "high jewellery", "-press", "x" * 41, "ok-1", "vip"]), ["tags"])
    assert violations == ["customer.tags[1]", "customer.tags[2]", "customer.tags[3]"]
    assert values["tags"] == ["vip", "ok-1"]


def test_too_many_tags():
    assert fields_of(valid(tags=[f"t{i}" for i in range(51)]), ["tags"]) == ["customer.tags"]


def test_every_violation_is_collected():
    msg = ProfileInput(
        given_name="x" * 101,
        locale="??",
        home_store="paris",
        tier=9,
        contact_points=[ContactPoint(kind=Kind.PHONE, value="nope")],
        tags=["bad tag"],
    )
    assert fields_of(msg) == [
        "customer.given_name",
        "customer.locale",
        "customer.home_store",
        "customer.tier",
        "customer.contact_points[0].value",
        "customer.tags[0]",
    ]


def test_a_new_customer_needs_a_name_and_a_sane_referral_code():
    violations = Violations()
    msg = ProfileInput(preferred_name="Mme L", referral_code="no!")
    profile.check_new(profile.read(msg, ALL, "customer.", violations), msg.referral_code, "customer.", violations)
    assert [f for f, _ in violations.items] == ["customer.given_name", "customer.referral_code"]
    for ok in (ProfileInput(given_name="H"), ProfileInput(family_name="L", referral_code="A-123")):
        violations = Violations()
        profile.check_new(profile.read(ok, ALL, "customer.", violations), ok.referral_code, "customer.", violations)
        assert violations.items == []


def test_search_text_holds_names_and_contacts():
    values, _ = read(
        valid(
            family_name="Laurent",
            contact_points=[
                ContactPoint(kind=Kind.PHONE, value="06 12 34 56 78"),
                ContactPoint(kind=Kind.EMAIL, value="H@Example.fr"),
            ],
        )
    )
    assert profile.search_text(values) == "hélène laurent +33612345678 33612345678 h@example.fr"
