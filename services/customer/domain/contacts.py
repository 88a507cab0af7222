"""Contact point normalisation: one spelling per phone, e-mail and messaging id, so that
uniqueness across customers is a database constraint on the normalised value."""

from __future__ import annotations

import re
from enum import IntEnum

import phonenumbers

from servicekit.errors import invalid


class ContactKind(IntEnum):
    """How a customer is reached (atelier.customer.v1.ContactKind, same numbers)."""

    UNSPECIFIED = 0
    EMAIL = 1
    PHONE = 2
    WECHAT = 3
    WHATSAPP = 4
    LINE = 5


# Every value this API defines, UNSPECIFIED included.
CONTACT_KINDS = frozenset(int(k) for k in ContactKind)
# Both are E.164 numbers: a phone number given at the till also finds the client known by
# her WhatsApp number, and the other way round.
PHONE_KINDS = (ContactKind.PHONE, ContactKind.WHATSAPP)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_WECHAT = re.compile(r"^[a-zA-Z][-_a-zA-Z0-9]{5,19}$")
_LINE = re.compile(r"^[a-z0-9._-]{4,20}$")


class InvalidContact(ValueError):
    pass


def normalise_phone(raw: str, default_region: str | None = None) -> str:
    """E.164, e.g. "+33 6 12 34 56 78" → "+33612345678". Numbers without a country code
    need the region of the customer's locale."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidContact(f"not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidContact("not a valid phone number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise(kind: int, raw: str, default_region: str | None = None) -> str:
    value = raw.strip()
    if not value:
        raise InvalidContact("must not be empty")
    if kind == ContactKind.EMAIL:
        value = value.lower()
        if not _EMAIL.match(value) or len(value) > 254:
            raise InvalidContact("not an e-mail address")
        return value
    if kind in PHONE_KINDS:
        return normalise_phone(value, default_region)
    if kind == ContactKind.WECHAT:
        if not _WECHAT.match(value):
            raise InvalidContact("a WeChat id is 6-20 letters, digits, - or _, starting with a letter")
        return value.lower()
    if kind == ContactKind.LINE:
        value = value.lower()
        if not _LINE.match(value):
            raise InvalidContact("a LINE id is 4-20 lower-case letters, digits, '.', '-' or '_'")
        return value
    raise InvalidContact("unknown contact kind")


def region_of(locale: str) -> str | None:
    """The region subtag of a BCP-47 locale ("fr-FR" → "FR", "zh-Hans-CN" → "CN")."""
    for part in reversed(locale.replace("_", "-").split("-")[1:]):
        if len(part) == 2 and part.isalpha():
            return part.upper()
    return None


def search_terms(kind: int, value: str) -> str:
    """What a contact point contributes to the search text: phones also without the +."""
    if kind in PHONE_KINDS:
        return f"{value} {value.lstrip('+')}"
    return value


_PHONE_LIKE = re.compile(r"^\+?[\d\s().-]{3,}$")
MIN_SEARCH_QUERY = 2


def search_query(raw: str) -> str:
    """Normalise a search fragment the way search text is normalised: phone fragments
    lose their spacing and punctuation, everything is lower-case."""
    query = " ".join(raw.split()).lower()
    if _PHONE_LIKE.match(query):
        return re.sub(r"[^\d]", "", query)
    return query


def read_search_query(raw: str) -> str:
    """The normalised query of a search; too short to search by is a violation of `query`."""
    query = search_query(raw)
    if len(query) < MIN_SEARCH_QUERY:
        raise invalid("query", f"at least {MIN_SEARCH_QUERY} characters of a name, e-mail or phone number")
    return query


def search_shape(query: str) -> str:
    """Which path a normalised search query takes: "phone" (digits only, as search_query
    leaves a phone fragment), "contact" (an e-mail or a local part: an "@", or a dot in a
    single word) or "name"."""
    if query.isdigit():
        return "phone"
    if "@" in query or ("." in query and " " not in query):
        return "contact"
    return "name"
