"""Import batches: keys, row validation and the folding of rows that describe the same
person (services/customer/domain/imports.py), no database."""

from __future__ import annotations

from services.customer.domain import imports
from services.customer.domain.contacts import ContactKind
from services.customer.domain.profile import ContactPoint

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
