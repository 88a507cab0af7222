"""What one assignment_changed event does to who holds a customer
(services/customer/domain/assignments.py), no database."""

from __future__ import annotations

from services.customer.domain.assignments import Change, Hold, Release, Role, steps


def change(role: Role, previous: str = "", associate: str = "") -> Change:
    return Change("c-1", role, previous, associate)


def test_a_new_primary_replaces_the_old_one_and_her_other_holding():
    assert steps(change(Role.PRIMARY, previous="a-1", associate="a-2")) == [
        Release(None, Role.PRIMARY),
        Release("a-2", None),
        Hold("a-2", Role.PRIMARY),
    ]


def test_a_new_secondary_replaces_the_previous_secondary():
    assert steps(change(Role.SECONDARY, previous="a-1", associate="a-2")) == [
        Hold("a-2", Role.SECONDARY),
        Release("a-1", Role.SECONDARY),
    ]
    assert steps(change(Role.SECONDARY, associate="a-2")) == [Hold("a-2", Role.SECONDARY)]
    assert steps(change(Role.SECONDARY, previous="a-2", associate="a-2")) == [Hold("a-2", Role.SECONDARY)]


def test_a_change_to_nobody_only_ends_the_named_holding():
    assert steps(change(Role.PRIMARY, previous="a-1")) == [Release("a-1", Role.PRIMARY)]
    assert steps(change(Role.SECONDARY, previous="a-3")) == [Release("a-3", Role.SECONDARY)]
    # Nobody named on either side: a provisional holder keeps her customer.
    assert steps(change(Role.PRIMARY)) == []
