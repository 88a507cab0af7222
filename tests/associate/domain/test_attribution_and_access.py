"""Attribution and access rules, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from servicekit.auth import Principal, Role
from servicekit.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.associate.domain import access
from services.associate.domain import attribution as ar
from services.associate.domain.periods import period_problem

ORDER = datetime(2026, 11, 20, 15, tzinfo=UTC)
WINDOW = timedelta(days=30)


def test_assisting_associate_wins():
    assert ar.attribute(assisting="a-2", primary="a-1", last_interaction=ORDER, order_time=ORDER, window=WINDOW) == (
        "a-2",
        ar.Basis.ASSISTING,
    )


def test_primary_within_window():
    last = ORDER - timedelta(days=29)
    assert ar.attribute(assisting="", primary="a-1", last_interaction=last, order_time=ORDER, window=WINDOW) == (
        "a-1",
        ar.Basis.PRIMARY,
    )


@pytest.mark.parametrize(
    "primary,last",
    [("a-1", ORDER - timedelta(days=31)), ("a-1", None), ("", ORDER), ("a-1", ORDER + timedelta(hours=1))],
)
def test_nobody_outside_window_without_contact_or_primary(primary, last):
    assert ar.attribute(assisting="", primary=primary, last_interaction=last, order_time=ORDER, window=WINDOW) == (
        "",
        ar.Basis.NONE,
    )


def test_window_from_env():
    assert ar.window_from_env({}) == timedelta(days=30)
    assert ar.window_from_env({"ATELIER_ATTRIBUTION_WINDOW_DAYS": "7"}) == timedelta(days=7)
    with pytest.raises(ValueError):
        ar.window_from_env({"ATELIER_ATTRIBUTION_WINDOW_DAYS": "-1"})


ASSOC = Principal("associates/a-1", Role.ASSOCIATE, associate_id="a-1", store="stores/paris")
MANAGER = Principal("staff/m", Role.MANAGER, associate_id="m-1", store="stores/paris")
HQ = Principal("staff/hq", Role.HQ)


def test_task_reach():
    assert access.can_reach_task(ASSOC, "a-1", "paris")
    assert not access.can_reach_task(ASSOC, "a-2", "paris")
    assert not access.can_reach_task(ASSOC, "", "paris")  # the store queue is the manager's
    assert access.can_reach_task(MANAGER, "a-2", "paris")
    assert access.can_reach_task(MANAGER, "", "paris")
    assert not access.can_reach_task(MANAGER, "a-9", "milan")
    assert access.can_reach_task(HQ, "a-9", "milan")


def test_list_scopes():
    assert access.list_scope(ASSOC, "", "") == access.TaskScope(associate="a-1")
    with pytest.raises(PermissionDenied):
        access.list_scope(ASSOC, "store", "")
    assert access.list_scope(MANAGER, "", "") == access.TaskScope(store="paris")
    assert access.list_scope(MANAGER, "mine", "") == access.TaskScope(associate="m-1")
    with pytest.raises(PermissionDenied):
        access.list_scope(MANAGER, "store", "stores/milan")
    assert access.list_scope(HQ, "", "") == access.TaskScope()
    assert access.list_scope(HQ, "store", "stores/milan") == access.TaskScope(store="milan")


def test_my_tasks_need_an_associate_id():
    """Audit item 14: headquarters, or a manager whose token names no associate, asking for
    her own tasks is a bad view, never a server error."""
    no_id = Principal("staff/m", Role.MANAGER, store="stores/paris")
    for who, view in (
        (HQ, "mine"),
        (no_id, "mine"),
        (Principal("associates/x", Role.ASSOCIATE, store="stores/paris"), ""),
    ):
        with pytest.raises(InvalidArgument) as bad:
            access.list_scope(who, view, "")
        assert [v[0] for v in bad.value.violations] == ["view"]
    assert access.list_scope(no_id, "", "") == access.TaskScope(store="paris")


def test_figures_scope():
    assert access.parse_scope("") == access.FigureScope()
    assert access.parse_scope("associates/a-1") == access.FigureScope(associate="a-1")
    assert access.parse_scope("stores/paris") == access.FigureScope(store="paris")
    assert access.parse_scope("customers/x") is None
    access.check_figures(ASSOC, access.FigureScope(associate="a-1"), None)
    for scope in (access.FigureScope(associate="a-2"), access.FigureScope(store="paris"), access.FigureScope()):
        with pytest.raises(PermissionDenied):
            access.check_figures(ASSOC, scope, None)
    access.check_figures(MANAGER, access.FigureScope(store="paris"), None)
    access.check_figures(MANAGER, access.FigureScope(associate="a-2"), "paris")
    with pytest.raises(PermissionDenied):
        access.check_figures(MANAGER, access.FigureScope(associate="a-3"), "milan")
    with pytest.raises(PermissionDenied):
        access.check_figures(MANAGER, access.FigureScope(), None)
    access.check_figures(HQ, access.FigureScope(), None)


def test_corrections_are_for_managers_of_the_store_and_hq():
    access.check_correct(MANAGER, "paris", "attributions/x")
    access.check_correct(HQ, "milan", "attributions/x")
    with pytest.raises(PermissionDenied) as denied:
        access.check_correct(ASSOC, "paris", "attributions/x")
    assert denied.value.reason == "ROLE_DENIED"
    with pytest.raises(PermissionDenied):
        access.check_correct(MANAGER, "milan", "attributions/x")


class _Member:
    def __init__(self, store_id: str, status: int = 1):
        self.id, self.store_id, self.role, self.status = "a-9", store_id, 1, status


def test_a_correction_credits_an_active_associate_of_the_managers_store():
    access.check_credit(MANAGER, _Member("paris"), "associates/a-9")
    access.check_credit(HQ, _Member("milan", status=3), "associates/a-9")  # HQ: anyone who exists
    with pytest.raises(PermissionDenied) as denied:
        access.check_credit(MANAGER, _Member("milan"), "associates/a-9")
    assert denied.value.reason == "SCOPE_DENIED"
    with pytest.raises(FailedPrecondition):
        access.check_credit(MANAGER, _Member("paris", status=2), "associates/a-9")
    for who in (MANAGER, HQ):
        with pytest.raises(InvalidArgument) as bad:
            access.check_credit(who, None, "associates/nobody")
        assert [v[0] for v in bad.value.violations] == ["associate"]


def test_store_staff_see_their_own_figures_by_default():
    assert access.default_figure_scope(ASSOC) == access.FigureScope(associate="a-1")
    assert access.default_figure_scope(MANAGER) == access.FigureScope(store="paris")
    assert access.default_figure_scope(HQ) == access.FigureScope()


def test_a_reporting_period_ends_after_it_starts_and_spans_at_most_three_years():
    assert period_problem(ORDER, ORDER + timedelta(days=30)) is None
    assert period_problem(ORDER, ORDER) == "must be after start_time"
    assert period_problem(ORDER, ORDER + timedelta(days=4 * 366)) == "a period spans at most 3 years"
