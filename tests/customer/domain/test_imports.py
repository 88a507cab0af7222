"""Import batches: keys, row validation and the folding of rows that describe the same
person (services/customer/domain/imports.py), no database."""

from __future__ import annotations

import pytest

from servicekit.errors import InvalidArgument
from services.customer.domain import imports
from services.customer.domain.contacts import ContactKind
from services.customer.domain.profile import ContactPoint, ProfileInput

E, P = ContactKind.EMAIL, ContactKind.PHONE


def _row(n, points, **values):
    values.setdefault("given_name", "")
    return imports.ImportRow(n, "", "", {"contact_points": [ContactPoint(k, v, False) for k, v in points], **values})


def test_rows_sharing_contact_points_fold_transitively_into_the_first():
    rows = [
        _row(3, [(P, "+33600000003"), (E, "b@x.io")], family_name="Wang", tags=["b"]),
        _row(1, [(E, "a@x.io")], given_name="Mei", tags=["a"]),
        _row(2, [(E, "a@x.io"), (P, "+33600000003")], tags=["a", "c"]),
        _row(4, [(E, "d@x.io")]),
    ]
    leads = imports.fold_batch(rows)
    assert [lead.row_number for lead in leads] == [1, 4]
    mei = leads[0]
    assert sorted(mei.folded) == [2, 3]
    assert (mei.values["given_name"], mei.values["family_name"]) == ("Mei", "Wang")
    assert mei.values["tags"] == ["a", "c", "b"]
    assert [c.value for c in mei.values["contact_points"]] == ["a@x.io", "+33600000003", "b@x.io"]


def test_a_batch_has_well_formed_keys_the_stream_import_id_and_at_most_5000_rows():
    imports.check_batch("crm-2026", "b-1", 5000, None)
    imports.check_batch("crm-2026", "b-2", 1, "crm-2026")
    with pytest.raises(InvalidArgument) as refused:
        imports.check_batch("crm 2026", "", 5001, "other")
    assert [f for f, _ in refused.value.violations] == ["import_id", "import_id", "batch_id", "rows"]


def test_rows_are_validated_as_creates_and_ids_are_unique_in_the_batch():
    def row(number: int, customer_id: str = "", **fields) -> imports.RowInput:
        fields.setdefault("given_name", "Mei")
        return imports.RowInput(number, customer_id, ProfileInput(**fields))

    good, bad = imports.validate(
        [
            row(1, "c-100", contact_points=[ContactPoint(E, "Mei@X.io")]),
            row(2, "c-100"),  # the id of an earlier row
            row(3, "C_1"),
            row(4, given_name="", referral_code="!"),
            row(5),
        ]
    )
    assert [(r.row_number, r.customer_id) for r in good] == [(1, "c-100"), (5, "")]
    assert good[0].values["contact_points"] == [ContactPoint(E, "mei@x.io", True)]
    assert [(r.row_number, [f for f, _ in r.violations]) for r in bad] == [
        (2, ["customer_id"]),
        (3, ["customer_id"]),
        (4, ["customer.given_name", "customer.referral_code"]),
    ]


def test_a_row_whose_id_is_taken_is_rejected_with_the_rows_folded_into_it():
    lead = _row(7, [(E, "a@x.io")])
    lead.folded.extend([9, 12])
    rejected = imports.rejected_as_taken(lead)
    assert [(r.row_number, r.violations[0][0]) for r in rejected] == [
        (7, "customer_id"),
        (9, "customer.contact_points"),
        (12, "customer.contact_points"),
    ]


def test_rows_naming_an_unknown_home_store_or_referral_code_are_rejected():
    from services.customer.domain.directory import Known

    known = Known(stores=frozenset({"stores/paris"}), referral_codes=frozenset({"QR7K2"}))
    fine = _row(1, [], home_store="stores/paris")
    unplaced = _row(2, [])
    lost = _row(3, [], home_store="stores/atlantis")
    carded = imports.ImportRow(4, "", "qr-7k2", {"home_store": "stores/paris"})
    miscarded = imports.ImportRow(5, "", "NOPE1", {"home_store": "stores/atlantis"})
    good, bad = imports.check_references([fine, unplaced, lost, carded, miscarded], known)
    assert [row.row_number for row in good] == [1, 2, 4]
    assert [(r.row_number, [f for f, _ in r.violations]) for r in bad] == [
        (3, ["customer.home_store"]),
        (5, ["customer.home_store", "customer.referral_code"]),
    ]
