"""Every validation rule over gRPC: INVALID_ARGUMENT with a BadRequest naming each bad
field, all of them at once, and nothing written (no row, no event, no idempotency key)."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf import field_mask_pb2
from google.type import date_pb2

from atelier.common.v1 import common_pb2
from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from tests.conftest import hq
from tests.customer.support import (
    TIMEOUT,
    Kind,
    assert_unchanged,
    bad_request,
    create,
    email,
    error_info,
    known_store,
    md,
    phone,
    rpc_error,
    snapshot,
    unique_phone,
)


def _customer(**fields) -> customer_pb2.Customer:
    fields.setdefault("given_name", "Hélène")
    fields.setdefault("locale", "fr-FR")
    return customer_pb2.Customer(**fields)


def _date(year, month, day):
    return customer_pb2.ImportantDate(
        kind=customer_pb2.IMPORTANT_DATE_KIND_BIRTHDAY, date=date_pb2.Date(year=year, month=month, day=day)
    )


def _create(**kw):
    return "CreateCustomer", api.CreateCustomerRequest(**kw)


# (case id, request factory taking the name of an existing customer, expected fields)
CASES = [
    (
        "bad-phone",
        lambda n: _create(customer=_customer(contact_points=[phone("06 12")])),
        ["customer.contact_points[0].value"],
    ),
    (
        "phone-without-region",
        lambda n: _create(customer=_customer(locale="", contact_points=[phone("06 12 34 56 78")])),
        ["customer.contact_points[0].value"],
    ),
    (
        "bad-email",
        lambda n: _create(customer=_customer(contact_points=[email("helene@")])),
        ["customer.contact_points[0].value"],
    ),
    (
        "contact-kind",
        lambda n: _create(customer=_customer(contact_points=[customer_pb2.ContactPoint(value="x@example.com")])),
        ["customer.contact_points[0].kind"],
    ),
    (
        "contact-twice",
        lambda n: _create(customer=_customer(contact_points=[phone("+33 6 51 23 45 67"), phone("06 51 23 45 67")])),
        ["customer.contact_points[1].value"],
    ),
    (
        "no-name",
        lambda n: _create(customer=customer_pb2.Customer(preferred_name="Mme L", locale="fr-FR")),
        ["customer.given_name"],
    ),
    ("no-customer", lambda n: _create(), ["customer", "customer.given_name"]),
    ("long-name", lambda n: _create(customer=_customer(family_name="x" * 101)), ["customer.family_name"]),
    ("locale", lambda n: _create(customer=_customer(locale="fr_FR")), ["customer.locale"]),
    ("home-store", lambda n: _create(customer=_customer(home_store="paris")), ["customer.home_store"]),
    ("tier", lambda n: _create(customer=_customer(tier=17)), ["customer.tier"]),
    (
        "preference",
        lambda n: _create(customer=_customer(preferences=[customer_pb2.Preference(category="Ring Size", value="52")])),
        ["customer.preferences[0].category"],
    ),
    (
        "preference-value",
        lambda n: _create(customer=_customer(preferences=[customer_pb2.Preference(category="colour")])),
        ["customer.preferences[0].value"],
    ),
    (
        "feb-30",
        lambda n: _create(customer=_customer(important_dates=[_date(0, 2, 30)])),
        ["customer.important_dates[0].date"],
    ),
    (
        "feb-29-not-leap",
        lambda n: _create(customer=_customer(important_dates=[_date(2023, 2, 29)])),
        ["customer.important_dates[0].date"],
    ),
    (
        "date-kind",
        lambda n: _create(
            customer=_customer(important_dates=[customer_pb2.ImportantDate(date=date_pb2.Date(month=1, day=1))])
        ),
        ["customer.important_dates[0].kind"],
    ),
    ("tag", lambda n: _create(customer=_customer(tags=["ok", "not ok"])), ["customer.tags[1]"]),
    ("referral-code", lambda n: _create(customer=_customer(referral_code="qr code!")), ["customer.referral_code"]),
    ("customer-id", lambda n: _create(customer=_customer(), customer_id="Bad_Id"), ["customer_id"]),
    ("customer-id-short", lambda n: _create(customer=_customer(), customer_id="ab"), ["customer_id"]),
    ("request-id", lambda n: _create(customer=_customer(), request_id="not-a-uuid"), ["request_id"]),
    # Update
    (
        "update-mask-empty",
        lambda n: ("UpdateCustomer", api.UpdateCustomerRequest(customer=_customer(name=n))),
        ["update_mask"],
    ),
    (
        "update-mask-unknown",
        lambda n: (
            "UpdateCustomer",
            api.UpdateCustomerRequest(
                customer=_customer(name=n), update_mask=field_mask_pb2.FieldMask(paths=["given_name", "shoe_size"])
            ),
        ),
        ["update_mask"],
    ),
    (
        "update-mask-output-only",
        lambda n: (
            "UpdateCustomer",
            api.UpdateCustomerRequest(
                customer=_customer(name=n),
                update_mask=field_mask_pb2.FieldMask(paths=["create_time", "etag", "referral_code"]),
            ),
        ),
        ["update_mask", "update_mask", "update_mask"],
    ),
    (
        "update-name",
        lambda n: (
            "UpdateCustomer",
            api.UpdateCustomerRequest(
                customer=_customer(name="people/x"), update_mask=field_mask_pb2.FieldMask(paths=["given_name"])
            ),
        ),
        ["customer.name"],
    ),
    (
        "update-etag",
        lambda n: (
            "UpdateCustomer",
            api.UpdateCustomerRequest(
                customer=_customer(name=n, etag="W/abc"), update_mask=field_mask_pb2.FieldMask(paths=["given_name"])
            ),
        ),
        ["customer.etag"],
    ),
    (
        "update-fields",
        lambda n: (
            "UpdateCustomer",
            api.UpdateCustomerRequest(
                customer=_customer(name=n, locale="??", tags=["A B"]),
                update_mask=field_mask_pb2.FieldMask(paths=["locale", "tags"]),
            ),
        ),
        ["customer.locale", "customer.tags[0]"],
    ),
    (
        "update-contacts",
        lambda n: (
            "UpdateCustomer",
            api.UpdateCustomerRequest(
                customer=_customer(name=n, contact_points=[phone("0000")]),
                update_mask=field_mask_pb2.FieldMask(paths=["contact_points"]),
            ),
        ),
        ["customer.contact_points[0].value"],
    ),
    # Get / Delete
    ("get-name", lambda n: ("GetCustomer", api.GetCustomerRequest(name="customers/NOT_AN_ID")), ["name"]),
    ("get-no-name", lambda n: ("GetCustomer", api.GetCustomerRequest()), ["name"]),
    ("delete-name", lambda n: ("DeleteCustomer", api.DeleteCustomerRequest(name="notes/abc")), ["name"]),
    ("delete-etag", lambda n: ("DeleteCustomer", api.DeleteCustomerRequest(name=n, etag="abc")), ["etag"]),
    # List / Search
    ("list-page-token", lambda n: ("ListCustomers", api.ListCustomersRequest(page_token="garbage!")), ["page_token"]),
    ("list-page-size", lambda n: ("ListCustomers", api.ListCustomersRequest(page_size=-1)), ["page_size"]),
    ("list-filter", lambda n: ("ListCustomers", api.ListCustomersRequest(filter="tier == VIP")), ["filter"]),
    ("list-filter-field", lambda n: ("ListCustomers", api.ListCustomersRequest(filter='given_name = "x"')), ["filter"]),
    ("list-filter-tier", lambda n: ("ListCustomers", api.ListCustomersRequest(filter="tier = TIER_GOLD")), ["filter"]),
    ("search-short", lambda n: ("SearchCustomers", api.SearchCustomersRequest(query="a")), ["query"]),
    ("search-blank", lambda n: ("SearchCustomers", api.SearchCustomersRequest(query="  ( - ) ")), ["query"]),
    (
        "search-page-size",
        lambda n: ("SearchCustomers", api.SearchCustomersRequest(query="laurent", page_size=-5)),
        ["page_size"],
    ),
    # Consent
    ("consent-all", lambda n: ("GrantConsent", api.GrantConsentRequest(name=n)), ["channel", "purpose", "source"]),
    (
        "consent-unknown-enums",
        lambda n: ("WithdrawConsent", api.WithdrawConsentRequest(name=n, channel=42, purpose=42, source="x")),
        ["channel", "purpose"],
    ),
    (
        "consent-name",
        lambda n: (
            "GrantConsent",
            api.GrantConsentRequest(
                name="customers/", channel=common_pb2.CHANNEL_SMS, purpose=common_pb2.PURPOSE_SERVICE, source="web-form"
            ),
        ),
        ["name"],
    ),
    (
        "consent-source",
        lambda n: (
            "GrantConsent",
            api.GrantConsentRequest(
                name=n, channel=common_pb2.CHANNEL_SMS, purpose=common_pb2.PURPOSE_SERVICE, source="   "
            ),
        ),
        ["source"],
    ),
    (
        "consent-source-long",
        lambda n: (
            "WithdrawConsent",
            api.WithdrawConsentRequest(
                name=n, channel=common_pb2.CHANNEL_SMS, purpose=common_pb2.PURPOSE_SERVICE, source="s" * 65
            ),
        ),
        ["source"],
    ),
    (
        "consent-history-parent",
        lambda n: ("ListConsentChanges", api.ListConsentChangesRequest(parent="customer/x")),
        ["parent"],
    ),
    (
        "consent-history-token",
        lambda n: ("ListConsentChanges", api.ListConsentChangesRequest(parent=n, page_token="%%%")),
        ["page_token"],
    ),
    (
        "consent-history-size",
        lambda n: ("ListConsentChanges", api.ListConsentChangesRequest(parent=n, page_size=-1)),
        ["page_size"],
    ),
    # Notes
    (
        "note-empty",
        lambda n: ("CreateNote", api.CreateNoteRequest(parent=n, note=customer_pb2.Note(text="  \n "))),
        ["note.text"],
    ),
    (
        "note-long",
        lambda n: ("CreateNote", api.CreateNoteRequest(parent=n, note=customer_pb2.Note(text="x" * 4001))),
        ["note.text"],
    ),
    (
        "note-all",
        lambda n: ("CreateNote", api.CreateNoteRequest(parent="", request_id="nope")),
        ["parent", "note.text", "request_id"],
    ),
    ("notes-parent", lambda n: ("ListNotes", api.ListNotesRequest(parent=n + "/notes")), ["parent"]),
    ("notes-token", lambda n: ("ListNotes", api.ListNotesRequest(parent=n, page_token="eyJ4IjoxfQ")), ["page_token"]),
    ("notes-size", lambda n: ("ListNotes", api.ListNotesRequest(parent=n, page_size=-2)), ["page_size"]),
]


@pytest.fixture
async def existing(customer_service, customer_stub):
    return await create(
        customer_stub, home_store=await known_store(customer_service), contact_points=[phone(unique_phone("FR")[0])]
    )


@pytest.mark.parametrize(("case", "build", "fields"), CASES, ids=[c[0] for c in CASES])
async def test_invalid_request_is_refused_and_changes_nothing(customer_stub, db, existing, case, build, fields):
    method, request = build(existing.name)
    before = await snapshot(db)
    exc = await rpc_error(getattr(customer_stub, method)(request, metadata=md(hq()), timeout=TIMEOUT))
    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()
    violations = bad_request(exc).field_violations
    assert [v.field for v in violations] == fields
    assert all(v.description for v in violations)
    assert error_info(exc).reason == "INVALID_ARGUMENT"
    await assert_unchanged(db, before)
    if method == "UpdateCustomer":
        current = await customer_stub.GetCustomer(
            api.GetCustomerRequest(name=existing.name), metadata=md(hq()), timeout=TIMEOUT
        )
        assert current == existing


async def test_bad_phone_violation_describes_the_problem(customer_stub):
    exc = await rpc_error(create(customer_stub, contact_points=[email("ok@example.com"), phone("+33 6 12")]))
    (violation,) = bad_request(exc).field_violations
    assert violation.field == "customer.contact_points[1].value"
    assert "phone" in violation.description
    assert "customer.contact_points[1].value" in exc.details()


async def test_every_bad_field_is_listed_in_one_bad_request(customer_stub, db):
    # (Values no API defines — an undefined enum number such as tier 99, an out-of-range
    # timestamp, NUL, invalid UTF-8 — are refused by the interceptor before the servicer
    # runs, on their own: tests/servicekit/test_request_checks.py.)
    before = await snapshot(db)
    request = api.CreateCustomerRequest(
        customer=customer_pb2.Customer(
            given_name="x" * 101,
            locale="français",
            home_store="stores/Paris",
            contact_points=[
                phone("12"),
                customer_pb2.ContactPoint(kind=Kind.CONTACT_KIND_UNSPECIFIED, value="a@b.fr"),
                email("not-an-email"),
            ],
            preferences=[customer_pb2.Preference(category="", value="x")],
            important_dates=[_date(0, 2, 30)],
            tags=["#vip"],
            referral_code="!",
        ),
        customer_id="-",
        request_id="12345",
    )
    exc = await rpc_error(customer_stub.CreateCustomer(request, metadata=md(hq()), timeout=TIMEOUT))
    assert [v.field for v in bad_request(exc).field_violations] == [
        "customer.given_name",
        "customer.locale",
        "customer.home_store",
        "customer.contact_points[0].value",
        "customer.contact_points[1].kind",
        "customer.contact_points[2].value",
        "customer.preferences[0].category",
        "customer.important_dates[0].date",
        "customer.tags[0]",
        "customer.referral_code",
        "customer_id",
        "request_id",
    ]
    await assert_unchanged(db, before)


async def test_feb_29_of_an_unknown_year_is_a_birthday(customer_service, customer_stub):
    created = await create(
        customer_stub,
        home_store=await known_store(customer_service),
        important_dates=[_date(0, 2, 29), _date(2024, 2, 29)],
    )
    assert [(d.date.year, d.date.month, d.date.day) for d in created.important_dates] == [(0, 2, 29), (2024, 2, 29)]


async def test_unknown_customer_is_not_found_after_validation(customer_stub):
    """Well-formed requests about a customer that does not exist are NOT_FOUND, not INVALID_ARGUMENT."""
    name = f"customers/{uuid.uuid4()}"
    calls = [
        customer_stub.GrantConsent(
            api.GrantConsentRequest(
                name=name, channel=common_pb2.CHANNEL_SMS, purpose=common_pb2.PURPOSE_SERVICE, source="web-form"
            ),
            metadata=md(hq()),
            timeout=TIMEOUT,
        ),
        customer_stub.ListConsentChanges(
            api.ListConsentChangesRequest(parent=name), metadata=md(hq()), timeout=TIMEOUT
        ),
        customer_stub.CreateNote(
            api.CreateNoteRequest(parent=name, note=customer_pb2.Note(text="hello")), metadata=md(hq()), timeout=TIMEOUT
        ),
        customer_stub.ListNotes(api.ListNotesRequest(parent=name), metadata=md(hq()), timeout=TIMEOUT),
        customer_stub.DeleteCustomer(api.DeleteCustomerRequest(name=name), metadata=md(hq()), timeout=TIMEOUT),
    ]
    for call in calls:
        exc = await rpc_error(call)
        assert exc.code() == grpc.StatusCode.NOT_FOUND
        assert error_info(exc).metadata["resource"] == name
