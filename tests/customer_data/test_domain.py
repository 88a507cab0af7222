"""Pure rules of import folding, segments and merges (no database)."""

from __future__ import annotations

from datetime import date

import pytest

from atelier.customer.v1 import customer_pb2, segment_pb2
from services.customer.domain import imports, merging, segments
from services.customer.domain.profile import ContactPoint
from servicekit.errors import InvalidArgument

E, P = customer_pb2.CONTACT_KIND_EMAIL, customer_pb2.CONTACT_KIND_PHONE


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


def test_birthday_window_wraps_the_year_and_greets_leaplings_on_the_28th():
    assert segments.birthday_days(date(2026, 12, 30), 3) == (1230, 1231, 101)
    assert 229 in segments.birthday_days(date(2027, 2, 27), 2)
    assert segments.birthday_days(date(2028, 2, 28), 1) == (228,)


def test_segment_validation_collects_every_field():
    with pytest.raises(InvalidArgument) as err:
        segments.parse(segment_pb2.Segment(tiers=[99], birthday_within_days=-1), date.today())
    assert sorted(f for f, _ in err.value.violations) == ["segment.birthday_within_days", "segment.tiers[0]"]


def test_merge_fills_and_extends_and_revert_takes_back_only_that():
    survivor = {"given_name": "Hélène", "family_name": "", "preferred_name": "", "locale": "fr-FR",
                "home_store": "stores/paris", "tier": 0, "tags": ["press"], "preferences": [], "important_dates": []}
    duplicate = {**survivor, "given_name": "Helene", "family_name": "Laurent", "tier": 3, "tags": ["vip", "press"]}
    values, changes = merging.combine(survivor, duplicate)
    assert values == {"family_name": "Laurent", "tier": 3, "tags": ["press", "vip"]}
    after = {**survivor, **values, "tags": ["press", "vip", "later"], "family_name": "Laurent-Dupont"}
    assert merging.revert(after, changes) == {"tier": 0, "tags": ["press", "later"]}


def test_scores_add_up_without_exceeding_one():
    assert merging.score([1]) == 0.9
    assert 0.9 < merging.score([1, 4]) < 1.0
