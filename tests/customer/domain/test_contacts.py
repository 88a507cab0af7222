"""Contact point normalisation rules (services/customer/domain/contacts.py), no database."""

from __future__ import annotations

import pytest

from atelier.customer.v1 import customer_pb2
from services.customer.domain import contacts

Kind = customer_pb2.ContactKind


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("+33 6 12 34 56 78", None, "+33612345678"),
        ("+33 (0)6 12 34 56 78", "US", "+33612345678"),  # an explicit country code wins
        ("0033 6 12 34 56 78", "FR", "+33612345678"),
        ("138 0013 8000", "CN", "+8613800138000"),
        ("(212) 234-5678", "US", "+12122345678"),
        ("+1 212-234-5678", "FR", "+12122345678"),
    ],
)
def test_phones_are_normalised_to_e164(raw, region, expected):
    assert contacts.normalise_phone(raw, region) == expected
    assert contacts.normalise(Kind.CONTACT_KIND_PHONE, raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("06 12 34 56 78", None),  # national number, no region to read it in
        ("12345", "FR"),  # too short for France
        ("+33 6 12 34 56 7", None),  # one digit missing
        ("not a number", "FR"),
        ("+999 1234 5678", None),  # no such country code
    ],
)
def test_bad_phones_are_refused(raw, region):
    with pytest.raises(contacts.InvalidContact):
        contacts.normalise_phone(raw, region)


def test_whatsapp_is_a_phone_number_in_e164():
    assert contacts.normalise(Kind.CONTACT_KIND_WHATSAPP, "07911 123456", "GB") == "+447911123456"
    assert contacts.normalise(Kind.CONTACT_KIND_WHATSAPP, " +44 7911 123456 ", None) == "+447911123456"
    with pytest.raises(contacts.InvalidContact):
        contacts.normalise(Kind.CONTACT_KIND_WHATSAPP, "wxid_someone", "GB")


def test_email_is_trimmed_and_lower_cased():
    assert (
        contacts.normalise(Kind.CONTACT_KIND_EMAIL, "  Helene.LAURENT@Example.FR ", None) == "helene.laurent@example.fr"
    )


@pytest.mark.parametrize("raw", ["plainaddress", "a@b", "two@@example.com", "sp ace@example.com", "@example.com"])
def test_bad_emails_are_refused(raw):
    with pytest.raises(contacts.InvalidContact):
        contacts.normalise(Kind.CONTACT_KIND_EMAIL, raw, None)


def test_overlong_email_is_refused():
    with pytest.raises(contacts.InvalidContact):
        contacts.normalise(Kind.CONTACT_KIND_EMAIL, "a" * 250 + "@example.com", None)


def test_wechat_ids_are_lower_cased_and_checked():
    assert contacts.normalise(Kind.CONTACT_KIND_WECHAT, "Wxid_Helene88", None) == "wxid_helene88"
    for bad in ("1helene", "abc", "a" * 21, "hélène-88"):
        with pytest.raises(contacts.InvalidContact):
            contacts.normalise(Kind.CONTACT_KIND_WECHAT, bad, None)


def test_line_ids_are_lower_cased_and_checked():
    assert contacts.normalise(Kind.CONTACT_KIND_LINE, "Helene.L", None) == "helene.l"
    for bad in ("abc", "a" * 21, "hel ene"):
        with pytest.raises(contacts.InvalidContact):
            contacts.normalise(Kind.CONTACT_KIND_LINE, bad, None)


@pytest.mark.parametrize("kind", [Kind.CONTACT_KIND_EMAIL, Kind.CONTACT_KIND_PHONE, Kind.CONTACT_KIND_WECHAT])
def test_empty_values_are_refused(kind):
    with pytest.raises(contacts.InvalidContact, match="empty"):
        contacts.normalise(kind, "   ", "FR")


@pytest.mark.parametrize("kind", [Kind.CONTACT_KIND_UNSPECIFIED, 99])
def test_unknown_kinds_are_refused(kind):
    with pytest.raises(contacts.InvalidContact, match="kind"):
        contacts.normalise(kind, "something", "FR")


@pytest.mark.parametrize(
    ("locale", "region"),
    [("fr-FR", "FR"), ("zh-Hans-CN", "CN"), ("en_GB", "GB"), ("fr", None), ("es-419", None), ("", None)],
)
def test_region_of_locale(locale, region):
    assert contacts.region_of(locale) == region


def test_search_terms_add_phones_without_plus():
    assert contacts.search_terms(Kind.CONTACT_KIND_PHONE, "+33612345678") == "+33612345678 33612345678"
    assert contacts.search_terms(Kind.CONTACT_KIND_WHATSAPP, "+33612345678") == "+33612345678 33612345678"
    assert contacts.search_terms(Kind.CONTACT_KIND_EMAIL, "a@b.fr") == "a@b.fr"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12 34 56", "123456"),
        ("+33 (6) 12-34", "3361234"),
        ("  Laurent   Hélène ", "laurent hélène"),
        ("Helene@Example", "helene@example"),
        ("a1 2", "a1 2"),  # letters: not a phone fragment
    ],
)
def test_search_query_normalisation(raw, expected):
    assert contacts.search_query(raw) == expected


@pytest.mark.parametrize(
    ("raw", "shape"),
    [
        ("06 12 34 56 78", "phone"),
        ("+33 6 12", "phone"),
        ("Tsu@iCloud.com", "contact"),
        ("li.wei", "contact"),
        ("@gmail", "contact"),
        ("Ma", "name"),
        ("isla williams", "name"),
        ("st. john", "name"),  # a dot between words is an abbreviation, not an address
    ],
)
def test_search_shape(raw, shape):
    assert contacts.search_shape(contacts.search_query(raw)) == shape
