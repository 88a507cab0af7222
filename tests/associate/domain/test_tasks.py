"""The task rules, without I/O: due times in store time zones, DST, leap-day birthdays,
configuration from the environment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from atelier.associate.v1 import task_pb2
from atelier.common.v1 import common_pb2
from atelier.customer.v1 import customer_pb2
from servicekit.auth import Principal, Role
from servicekit.errors import FailedPrecondition, InvalidArgument
from services.associate.domain import tasks as rules
from services.associate.domain.tasks import TaskRuleConfig

CFG = TaskRuleConfig()
PARIS = rules.zone("Europe/Paris")
SHANGHAI = rules.zone("Asia/Shanghai")
NEW_YORK = rules.zone("America/New_York")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_follow_up_purchase_is_due_at_ten_local_time_n_days_later():
    # 22:30 in Paris on 2 June (summer time, UTC+2) is 20:30 UTC.
    planned = rules.follow_up_purchase("customers/c/purchases/p", utc(2026, 6, 2, 20, 30), PARIS, CFG)
    assert planned.rule == rules.FOLLOW_UP_PURCHASE
    assert planned.kind == task_pb2.TASK_KIND_FOLLOW_UP_PURCHASE
    assert planned.trigger_key == "customers/c/purchases/p"
    assert planned.due_time == utc(2026, 6, 5, 8, 0)  # 10:00 Paris summer time


def test_local_day_not_utc_day_counts():
    # 01:30 on 3 June in Shanghai is still 2 June in UTC: day N counts from the local day.
    planned = rules.follow_up_purchase("p", utc(2026, 6, 2, 17, 30), SHANGHAI, CFG)
    assert planned.due_time == utc(2026, 6, 6, 2, 0)  # 10:00 on 6 June in Shanghai (UTC+8)


def test_follow_up_across_spring_forward_keeps_wall_clock_time():
    # Visit on Friday 27 March 2026 in Paris (UTC+1); DST starts Sunday 29 March.
    planned = rules.follow_up_visit("customers/c/interactions/i", utc(2026, 3, 27, 15), PARIS, CFG)
    assert planned.due_time == utc(2026, 3, 30, 8, 0)  # 10:00 CEST is 08:00 UTC
    assert planned.rule == rules.FOLLOW_UP_VISIT


def test_follow_up_across_fall_back_keeps_wall_clock_time():
    # New York leaves DST on 1 November 2026.
    planned = rules.follow_up_visit("i", utc(2026, 10, 30, 18), NEW_YORK, CFG)
    assert planned.due_time == utc(2026, 11, 2, 15, 0)  # 10:00 EST is 15:00 UTC


def test_due_hour_inside_a_dst_gap_resolves_to_a_real_instant():
    cfg = TaskRuleConfig(follow_up_days=1, local_hour=2)  # 02:00 does not exist on 29 March in Paris
    planned = rules.follow_up_purchase("p", utc(2026, 3, 28, 12), PARIS, cfg)
    assert planned.due_time == utc(2026, 3, 29, 1, 0)  # i.e. 03:00 CEST, one hour on


def test_unknown_or_missing_zone_is_utc():
    assert rules.zone("") == rules.zone("UTC")
    assert rules.zone("Mars/Olympus") == rules.zone("UTC")
    assert rules.follow_up_purchase("p", utc(2026, 1, 1, 23), rules.zone(""), CFG).due_time == utc(2026, 1, 4, 10)


def test_reply_is_due_h_hours_after_the_message_with_its_channel():
    planned = rules.reply_message(
        "i", utc(2026, 3, 28, 23, 15), common_pb2.CHANNEL_WECHAT, TaskRuleConfig(reply_hours=4)
    )
    assert planned.due_time == utc(2026, 3, 29, 3, 15)
    assert planned.channel == common_pb2.CHANNEL_WECHAT
    assert planned.kind == task_pb2.TASK_KIND_REPLY_MESSAGE


def test_next_occurrence_of_february_29():
    assert rules.next_occurrence(2, 29, date(2027, 1, 10)) == date(2027, 2, 28)  # common year
    assert rules.next_occurrence(2, 29, date(2028, 1, 10)) == date(2028, 2, 29)  # leap year
    assert rules.next_occurrence(2, 29, date(2027, 3, 1)) == date(2028, 2, 29)
    assert rules.next_occurrence(2, 29, date(2027, 2, 28)) == date(2027, 2, 28)  # today counts


def test_next_occurrence_rolls_to_next_year():
    assert rules.next_occurrence(11, 20, date(2026, 11, 25)) == date(2027, 11, 20)
    assert rules.next_occurrence(12, 31, date(2026, 12, 31)) == date(2026, 12, 31)


def test_birthday_greeting_m_days_before_at_local_hour():
    planned = rules.greeting(rules.BIRTHDAY_GREETING, 12, 24, utc(2026, 11, 25, 9), PARIS, CFG)
    assert planned.trigger_key == "2026-12-24"
    assert planned.due_time == utc(2026, 12, 17, 9, 0)  # 10:00 CET
    assert planned.kind == task_pb2.TASK_KIND_BIRTHDAY_GREETING


def test_leap_day_birthday_greeted_before_february_28_in_common_years():
    planned = rules.greeting(rules.BIRTHDAY_GREETING, 2, 29, utc(2027, 1, 5), SHANGHAI, CFG)
    assert planned.trigger_key == "2027-02-28"
    assert planned.due_time == utc(2027, 2, 21, 2, 0)  # 10:00 in Shanghai on 21 February


def test_greeting_inside_the_window_is_due_today_not_in_the_past():
    """Audit item 19: added fewer than 7 days ahead, the greeting is due today (after the
    store's hour: by the end of its day), never overdue when it is created."""
    now = utc(2026, 11, 25, 12)  # 13:00 in Paris, past its 10:00
    planned = rules.greeting(rules.ANNIVERSARY_GREETING, 11, 27, now, PARIS, CFG)
    assert planned.trigger_key == "2026-11-27"
    assert planned.due_time == utc(2026, 11, 25, 23)  # midnight in Paris: still today there
    assert planned.kind == task_pb2.TASK_KIND_ANNIVERSARY_GREETING


def test_greeting_inside_the_window_before_the_stores_hour_is_due_at_that_hour_today():
    planned = rules.greeting(rules.BIRTHDAY_GREETING, 11, 27, utc(2026, 11, 25, 6), PARIS, CFG)
    assert planned.due_time == utc(2026, 11, 25, 9)  # 10:00 in Paris


@pytest.mark.parametrize("hours_ahead", range(0, 24 * 8, 5))
def test_a_greeting_is_never_overdue_when_planned(hours_ahead):
    now = utc(2026, 3, 1, 0) + timedelta(hours=hours_ahead)
    for tz in (PARIS, SHANGHAI):
        planned = rules.greeting(rules.BIRTHDAY_GREETING, 3, 5, now, tz, CFG)
        assert planned.due_time > now
        # Due on her day at the latest (by the end of it when she is added that very day).
        assert rules.local_day(planned.due_time - timedelta(microseconds=1), tz) <= date.fromisoformat(
            planned.trigger_key
        )


def test_due_today_is_the_stores_hour_or_the_end_of_its_day():
    assert rules.due_today(utc(2026, 6, 1, 5), PARIS, 10) == utc(2026, 6, 1, 8)  # 10:00 CEST
    assert rules.due_today(utc(2026, 6, 1, 8), PARIS, 10) == utc(2026, 6, 1, 22)  # 10:00 exactly: by midnight
    assert rules.due_today(utc(2026, 6, 1, 21, 59), PARIS, 10) == utc(2026, 6, 1, 22)


def test_greeting_uses_the_store_local_date_for_today():
    # 23:30 UTC on 24 December is already 25 December in Shanghai: this year's is past.
    planned = rules.greeting(rules.BIRTHDAY_GREETING, 12, 24, utc(2026, 12, 24, 23, 30), SHANGHAI, CFG)
    assert planned.trigger_key == "2027-12-24"


def test_impossible_date_plans_nothing():
    assert rules.greeting(rules.BIRTHDAY_GREETING, 2, 30, utc(2026, 1, 1), PARIS, CFG) is None
    assert rules.greeting(rules.BIRTHDAY_GREETING, 13, 1, utc(2026, 1, 1), PARIS, CFG) is None


def test_greeting_rule_by_important_date_kind():
    assert rules.greeting_rule(customer_pb2.IMPORTANT_DATE_KIND_BIRTHDAY) == rules.BIRTHDAY_GREETING
    assert rules.greeting_rule(customer_pb2.IMPORTANT_DATE_KIND_ANNIVERSARY) == rules.ANNIVERSARY_GREETING
    assert rules.greeting_rule(customer_pb2.IMPORTANT_DATE_KIND_OTHER) is None


def test_appointment_preparation_the_local_day_before():
    start = utc(2026, 12, 10, 14)  # 15:00 Paris
    planned = rules.appointment_preparation("appointments/a1", start, utc(2026, 12, 1), PARIS, CFG)
    assert planned.due_time == utc(2026, 12, 9, 9, 0)
    assert planned.trigger_key == "appointments/a1"
    assert planned.kind == task_pb2.TASK_KIND_APPOINTMENT_PREPARATION


def test_appointment_booked_at_short_notice_is_prepared_at_once():
    booked = utc(2026, 12, 10, 9)
    planned = rules.appointment_preparation("a", utc(2026, 12, 10, 14), booked, PARIS, CFG)
    assert planned.due_time == booked
    assert rules.appointment_preparation("a", booked - timedelta(hours=1), booked, PARIS, CFG) is None


def test_config_from_environment():
    cfg = TaskRuleConfig.from_env(
        {"ATELIER_TASK_FOLLOW_UP_DAYS": "5", "ATELIER_TASK_GREETING_DAYS": "10", "ATELIER_TASK_REPLY_HOURS": "2"}
    )
    assert (cfg.follow_up_days, cfg.greeting_days, cfg.reply_hours, cfg.local_hour) == (5, 10, 2, 10)
    assert TaskRuleConfig.from_env({}) == TaskRuleConfig(3, 7, 24, 10)
    with pytest.raises(ValueError, match="ATELIER_TASK_FOLLOW_UP_DAYS"):
        TaskRuleConfig.from_env({"ATELIER_TASK_FOLLOW_UP_DAYS": "three"})
    with pytest.raises(ValueError, match="ATELIER_TASK_REPLY_HOURS"):
        TaskRuleConfig.from_env({"ATELIER_TASK_REPLY_HOURS": "0"})


# -- what the task use cases decide, extracted from them ---------------------------------

ASSOC = Principal("associates/a-1", Role.ASSOCIATE, associate_id="a-1", store="stores/paris")
MANAGER = Principal("staff/m", Role.MANAGER, associate_id="m-1", store="stores/paris")
DEFAULT = rules.Route("holder", "home", "Europe/Paris")


def test_a_task_by_hand_is_for_the_associate_named_or_the_associate_herself():
    assert rules.manual_assignee(ASSOC, "") == "a-1"
    assert rules.manual_assignee(MANAGER, "") == ""
    assert rules.manual_assignee(MANAGER, "a-2") == "a-2"


def test_a_task_by_hand_lives_in_the_store_of_whoever_does_it():
    assert rules.manual_route(MANAGER, "a-2", "", "milan", DEFAULT) == rules.Route("a-2", "milan", "Europe/Paris")
    assert rules.manual_route(MANAGER, "", "", None, DEFAULT) == rules.Route("holder", "paris", "Europe/Paris")
    with pytest.raises(InvalidArgument):
        rules.manual_route(MANAGER, "ghost", "", None, DEFAULT)  # no such associate
    with pytest.raises(InvalidArgument):
        rules.manual_route(MANAGER, "a-2", "paris", "milan", DEFAULT)  # she works elsewhere


def test_only_open_and_snoozed_tasks_change():
    rules.check_actionable(rules.TaskStatus.OPEN, "tasks/t")
    rules.check_actionable(rules.TaskStatus.SNOOZED, "tasks/t")
    with pytest.raises(FailedPrecondition) as closed:
        rules.check_actionable(rules.TaskStatus.DONE, "tasks/t")
    assert closed.value.reason == "TASK_CLOSED" and closed.value.metadata["status"] == "done"


def test_a_snooze_is_in_the_future_and_at_most_90_days_ahead():
    now = utc(2026, 12, 1)
    assert rules.snooze_problem(now + timedelta(days=1), now) is None
    assert rules.snooze_problem(now, now) == "must be in the future"
    assert rules.snooze_problem(now + timedelta(days=91), now) == "at most 90 days ahead"


def test_next_years_greeting_is_planned_from_the_day_after_this_occurrence():
    assert rules.next_greeting_after("2026-03-15", utc(2026, 3, 1)) == utc(2026, 3, 16)
    assert rules.next_greeting_after("2026-03-15", utc(2026, 4, 1)) == utc(2026, 4, 1)


def test_a_task_goes_to_her_associates_store_else_the_home_store_else_the_fallback():
    zones = {"paris": "Europe/Paris", "milan": "Europe/Rome", "tokyo": "Asia/Tokyo"}
    held = rules.RouteFacts("a-1", "paris", "milan", zones)
    assert rules.route(held, "tokyo", "x") == rules.Route("a-1", "paris", "Europe/Paris")
    queued = rules.RouteFacts("", "", "milan", zones)
    assert rules.route(queued, "tokyo", "x") == rules.Route("", "tokyo", "Asia/Tokyo")
    assert rules.route(queued, "", "tokyo") == rules.Route("", "milan", "Europe/Rome")
    unknown = rules.RouteFacts("", "", "", {})
    assert rules.route(unknown, "", "") == rules.Route("", "", "")


def test_a_scan_elsewhere_is_due_today_in_the_store_for_its_manager():
    planned = rules.scan_elsewhere(
        "customers/c/interactions/i", "associates/x", "stores/milan", utc(2026, 6, 1, 5), PARIS, CFG
    )
    assert planned.rule == rules.SCAN_ELSEWHERE and planned.kind == task_pb2.TASK_KIND_MANUAL
    assert planned.trigger_key == "customers/c/interactions/i"
    assert planned.due_time == utc(2026, 6, 1, 8)  # 10:00 in Paris that day
    assert "associates/x" in planned.title and "stores/milan" in planned.title
