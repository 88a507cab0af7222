"""Merges: what they do to the survivor and how that is undone, duplicate scores
(services/customer/domain/merging.py), no database."""

from __future__ import annotations

from services.customer.domain import merging


def test_merge_fills_and_extends_and_revert_takes_back_only_that():
    survivor = {
        "given_name": "Hélène",
        "family_name": "",
        "preferred_name": "",
        "locale": "fr-FR",
        "home_store": "stores/paris",
        "tier": 0,
        "tags": ["press"],
        "preferences": [],
        "important_dates": [],
    }
    duplicate = {**survivor, "given_name": "Helene", "family_name": "Laurent", "tier": 3, "tags": ["vip", "press"]}
    values, changes = merging.combine(survivor, duplicate)
    assert values == {"family_name": "Laurent", "tier": 3, "tags": ["press", "vip"]}
    after = {**survivor, **values, "tags": ["press", "vip", "later"], "family_name": "Laurent-Dupont"}
    assert merging.revert(after, changes) == {"tier": 0, "tags": ["press", "later"]}


def test_scores_add_up_without_exceeding_one():
    assert merging.score([1]) == 0.9
    assert 0.9 < merging.score([1, 4]) < 1.0
