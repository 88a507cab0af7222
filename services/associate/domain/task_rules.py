"""The rules that turn facts into follow-up tasks. Pure: times in, planned tasks out.

Due times are wall-clock times of the store (a follow-up is due at 10:00 in the boutique
on day N, whatever the season), converted to UTC with zoneinfo. Each planned task carries
the key of its trigger; with the rule and the customer it identifies the task, so applying
the same fact twice plans the same task and the database keeps one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from atelier.associate.v1 import task_pb2
from atelier.common.v1 import common_pb2
from atelier.customer.v1 import customer_pb2

Kind = task_pb2.TaskKind

FOLLOW_UP_PURCHASE = "follow_up_purchase"
FOLLOW_UP_VISIT = "follow_up_visit"
BIRTHDAY_GREETING = "birthday_greeting"
ANNIVERSARY_GREETING = "anniversary_greeting"
REPLY_MESSAGE = "reply_message"
APPOINTMENT_PREPARATION = "appointment_preparation"
MANUAL = "manual"

KIND_OF_RULE = {
    FOLLOW_UP_PURCHASE: Kind.TASK_KIND_FOLLOW_UP_PURCHASE,
    FOLLOW_UP_VISIT: Kind.TASK_KIND_FOLLOW_UP_VISIT,
    BIRTHDAY_GREETING: Kind.TASK_KIND_BIRTHDAY_GREETING,
    ANNIVERSARY_GREETING: Kind.TASK_KIND_ANNIVERSARY_GREETING,
    REPLY_MESSAGE: Kind.TASK_KIND_REPLY_MESSAGE,
    APPOINTMENT_PREPARATION: Kind.TASK_KIND_APPOINTMENT_PREPARATION,
    MANUAL: Kind.TASK_KIND_MANUAL,
}

DEFAULT_TIME_ZONE = "UTC"


@dataclass(frozen=True)
class TaskRuleConfig:
    follow_up_days: int = 3
    greeting_days: int = 7
    reply_hours: int = 24
    # Wall-clock hour in the store at which day-based tasks fall due.
    local_hour: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "TaskRuleConfig":
        def number(name: str, default: int, low: int, high: int) -> int:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low} and {high}, got {value}")
            return value

        return cls(
            follow_up_days=number("ATELIER_TASK_FOLLOW_UP_DAYS", 3, 0, 365),
            greeting_days=number("ATELIER_TASK_GREETING_DAYS", 7, 0, 90),
            reply_hours=number("ATELIER_TASK_REPLY_HOURS", 24, 1, 24 * 14),
            local_hour=number("ATELIER_TASK_LOCAL_HOUR", 10, 0, 23),
        )


@dataclass(frozen=True)
class PlannedTask:
    rule: str
    trigger_key: str
    due_time: datetime
    title: str
    channel: int = common_pb2.CHANNEL_UNSPECIFIED

    @property
    def kind(self) -> int:
        return KIND_OF_RULE[self.rule]


def zone(name: str) -> ZoneInfo:
    """The store's zone; UTC for a store without one (or an unknown name)."""
    try:
        return ZoneInfo(name or DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIME_ZONE)


def at_local(day: date, hour: int, tz: ZoneInfo) -> datetime:
    """`hour`:00 on `day` in `tz`, as UTC. A wall time skipped by a DST jump resolves to the
    same instant one hour later (zoneinfo's fold=0), never to an error."""
    local = datetime.combine(day, time(hour), tzinfo=tz)
    # Normalising through UTC turns a non-existent wall time into a real instant.
    return local.astimezone(timezone.utc)


def local_day(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def follow_up_purchase(purchase: str, order_time: datetime, tz: ZoneInfo, cfg: TaskRuleConfig) -> PlannedTask:
    day = local_day(order_time, tz) + timedelta(days=cfg.follow_up_days)
    return PlannedTask(
        rule=FOLLOW_UP_PURCHASE,
        trigger_key=purchase,
        due_time=at_local(day, cfg.local_hour, tz),
        title="Follow up on the purchase",
    )


def follow_up_visit(interaction: str, visit_time: datetime, tz: ZoneInfo, cfg: TaskRuleConfig) -> PlannedTask:
    day = local_day(visit_time, tz) + timedelta(days=cfg.follow_up_days)
    return PlannedTask(
        rule=FOLLOW_UP_VISIT,
        trigger_key=interaction,
        due_time=at_local(day, cfg.local_hour, tz),
        title="Follow up on the store visit",
    )


def reply_message(interaction: str, received: datetime, channel: int, cfg: TaskRuleConfig) -> PlannedTask:
    return PlannedTask(
        rule=REPLY_MESSAGE,
        trigger_key=interaction,
        due_time=received.astimezone(timezone.utc) + timedelta(hours=cfg.reply_hours),
        title="Reply to her message",
        channel=channel,
    )


def next_occurrence(month: int, day: int, on_or_after: date) -> date:
    """The next anniversary of a (month, day) on or after a date. February 29 falls on
    February 28 in common years: the greeting still comes before the day she celebrates."""
    for year in (on_or_after.year, on_or_after.year + 1):
        candidate = _in_year(year, month, day)
        if candidate >= on_or_after:
            return candidate
    raise AssertionError("unreachable: the following year always has an occurrence")


def _in_year(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        if month == 2 and day == 29:
            return date(year, 2, 28)
        raise


def greeting(rule: str, month: int, day: int, now: datetime, tz: ZoneInfo, cfg: TaskRuleConfig) -> PlannedTask | None:
    """The greeting for the next occurrence of a date (today counts). Due M days before at
    the store's local hour; when she is added fewer than M days ahead of it, due now. None
    for an impossible date."""
    try:
        _in_year(2000, month, day)  # a leap year: every real (month, day) exists
    except ValueError:
        return None
    today = local_day(now, tz)
    occurrence = next_occurrence(month, day, today)
    due = at_local(occurrence - timedelta(days=cfg.greeting_days), cfg.local_hour, tz)
    now_utc = now.astimezone(timezone.utc)
    what = "birthday" if rule == BIRTHDAY_GREETING else "anniversary"
    return PlannedTask(
        rule=rule,
        # One per occurrence: next year's birthday is a new task, this year's never twice.
        trigger_key=occurrence.isoformat(),
        due_time=max(due, now_utc),
        title=f"Greet her before her {what} on {occurrence.strftime('%d %B')}",
    )


def appointment_preparation(
    appointment: str, start: datetime, booked: datetime, tz: ZoneInfo, cfg: TaskRuleConfig
) -> PlannedTask | None:
    """Prepare the assortment the local day before at the store's hour; for a visit booked
    later than that, at booking. None for an appointment already started."""
    start = start.astimezone(timezone.utc)
    booked = booked.astimezone(timezone.utc)
    if start <= booked:
        return None
    due = at_local(local_day(start, tz) - timedelta(days=1), cfg.local_hour, tz)
    return PlannedTask(
        rule=APPOINTMENT_PREPARATION,
        trigger_key=appointment,
        due_time=min(max(due, booked), start),
        title="Prepare her assortment for the appointment",
    )


def greeting_rule(important_date_kind: int) -> str | None:
    return {
        customer_pb2.IMPORTANT_DATE_KIND_BIRTHDAY: BIRTHDAY_GREETING,
        customer_pb2.IMPORTANT_DATE_KIND_ANNIVERSARY: ANNIVERSARY_GREETING,
    }.get(important_date_kind)
