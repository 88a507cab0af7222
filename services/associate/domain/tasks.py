"""Tasks and the rules that turn facts into them. Pure: times in, planned tasks out.

Due times are wall-clock times of the store (a follow-up is due at 10:00 in the boutique
on day N, whatever the season), converted to UTC with zoneinfo. Each planned task carries
the key of its trigger; with the rule and the customer it identifies the task, so applying
the same fact twice plans the same task and the database keeps one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from servicekit.auth import Principal, Role
from servicekit.errors import FailedPrecondition, invalid
from servicekit.vocabulary import ImportantDateKind

from .names import bare


class TaskKind(IntEnum):
    """The contract's TaskKind numbers (also stored)."""

    FOLLOW_UP_PURCHASE = 1
    FOLLOW_UP_VISIT = 2
    BIRTHDAY_GREETING = 3
    ANNIVERSARY_GREETING = 4
    REPLY_MESSAGE = 5
    APPOINTMENT_PREPARATION = 6
    MANUAL = 7


class TaskStatus(IntEnum):
    """The contract's TaskStatus numbers (also stored)."""

    OPEN = 1
    DONE = 2
    SNOOZED = 3
    CANCELLED = 4

    @property
    def word(self) -> str:
        return self.name.lower()


# What an associate still has to act on; the others are closed for good.
ACTIONABLE = (TaskStatus.OPEN, TaskStatus.SNOOZED)
CLOSING = (TaskStatus.DONE, TaskStatus.CANCELLED)


@dataclass(frozen=True)
class RouteFacts:
    """What routing a customer's new task needs: her primary associate ('' for none) and
    that associate's store, the home store last known of her, and the time zones of the
    stores concerned (bare ids)."""

    associate_id: str
    holder_store: str
    known_home: str
    time_zones: Mapping[str, str]


def route(facts: RouteFacts, home_store: str = "", fallback_store: str = "") -> Route:
    """Her primary associate (or the store's queue); the store of that associate, else the
    home store the triggering fact names, else the one known of her, else the fallback
    (the store of the interaction, of the caller); that store's time zone."""
    store = facts.holder_store or home_store or facts.known_home or fallback_store
    return Route(facts.associate_id, store, facts.time_zones.get(store, ""))


@dataclass(frozen=True)
class TaskFilter:
    """Which tasks a list returns within its scope: these statuses (none: the open and
    snoozed ones), only overdue ones, one customer's ('' for every customer)."""

    statuses: tuple[int, ...] = ()
    overdue_only: bool = False
    customer_id: str = ""


@dataclass(frozen=True)
class ImportantDate:
    """A date she celebrates every year (kind: ImportantDateKind)."""

    kind: int
    month: int
    day: int


FOLLOW_UP_PURCHASE = "follow_up_purchase"
FOLLOW_UP_VISIT = "follow_up_visit"
BIRTHDAY_GREETING = "birthday_greeting"
ANNIVERSARY_GREETING = "anniversary_greeting"
REPLY_MESSAGE = "reply_message"
APPOINTMENT_PREPARATION = "appointment_preparation"
MANUAL = "manual"
# A QR scan naming another store's associate: her store's manager decides (domain.assignment.after_scan).
SCAN_ELSEWHERE = "scan_elsewhere"

GREETING_RULES = (BIRTHDAY_GREETING, ANNIVERSARY_GREETING)

KIND_OF_RULE = {
    FOLLOW_UP_PURCHASE: TaskKind.FOLLOW_UP_PURCHASE,
    FOLLOW_UP_VISIT: TaskKind.FOLLOW_UP_VISIT,
    BIRTHDAY_GREETING: TaskKind.BIRTHDAY_GREETING,
    ANNIVERSARY_GREETING: TaskKind.ANNIVERSARY_GREETING,
    REPLY_MESSAGE: TaskKind.REPLY_MESSAGE,
    APPOINTMENT_PREPARATION: TaskKind.APPOINTMENT_PREPARATION,
    MANUAL: TaskKind.MANUAL,
    SCAN_ELSEWHERE: TaskKind.MANUAL,
}

MAX_NOTE = 4000
MAX_TITLE = 300
MAX_SNOOZE = timedelta(days=90)
# A channel the task does not suggest (common.v1.Channel UNSPECIFIED).
NO_CHANNEL = 0

DEFAULT_TIME_ZONE = "UTC"


@dataclass(frozen=True)
class TaskRuleConfig:
    follow_up_days: int = 3
    greeting_days: int = 7
    reply_hours: int = 24
    # Wall-clock hour in the store at which day-based tasks fall due.
    local_hour: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> TaskRuleConfig:
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
    channel: int = NO_CHANNEL

    @property
    def kind(self) -> TaskKind:
        return KIND_OF_RULE[self.rule]


@dataclass(frozen=True)
class Route:
    """Where a customer's new task goes: her primary associate ('' for the store's queue),
    the store whose staff sees it, and that store's time zone ('' when unknown)."""

    associate_id: str
    store_id: str
    time_zone: str


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
    return local.astimezone(UTC)


def local_day(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def _follow_up(rule: str, trigger: str, when: datetime, tz: ZoneInfo, cfg: TaskRuleConfig, title: str) -> PlannedTask:
    """N days (follow_up_days) after `when`, counted in the store's days, at its local hour."""
    day = local_day(when, tz) + timedelta(days=cfg.follow_up_days)
    return PlannedTask(rule=rule, trigger_key=trigger, due_time=at_local(day, cfg.local_hour, tz), title=title)


def follow_up_purchase(purchase: str, order_time: datetime, tz: ZoneInfo, cfg: TaskRuleConfig) -> PlannedTask:
    return _follow_up(FOLLOW_UP_PURCHASE, purchase, order_time, tz, cfg, "Follow up on the purchase")


def follow_up_visit(interaction: str, visit_time: datetime, tz: ZoneInfo, cfg: TaskRuleConfig) -> PlannedTask:
    return _follow_up(FOLLOW_UP_VISIT, interaction, visit_time, tz, cfg, "Follow up on the store visit")


def reply_message(interaction: str, received: datetime, channel: int, cfg: TaskRuleConfig) -> PlannedTask:
    return PlannedTask(
        rule=REPLY_MESSAGE,
        trigger_key=interaction,
        due_time=received.astimezone(UTC) + timedelta(hours=cfg.reply_hours),
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


def due_today(now: datetime, tz: ZoneInfo, hour: int) -> datetime:
    """Due today in the store: at its local `hour` while that is still ahead, else by the
    end of its day (local midnight). Never in the past, so never overdue when planned."""
    today = local_day(now, tz)
    at_hour = at_local(today, hour, tz)
    if at_hour > now:
        return at_hour
    return at_local(today + timedelta(days=1), 0, tz)


def greeting(rule: str, month: int, day: int, now: datetime, tz: ZoneInfo, cfg: TaskRuleConfig) -> PlannedTask | None:
    """The greeting for the next occurrence of a date (today counts). Due M days before at
    the store's local hour; when she is added fewer than M days ahead of it, due today
    (domain.tasks.due_today), not overdue from the start. None for an impossible date."""
    try:
        _in_year(2000, month, day)  # a leap year: every real (month, day) exists
    except ValueError:
        return None
    today = local_day(now, tz)
    occurrence = next_occurrence(month, day, today)
    due = at_local(occurrence - timedelta(days=cfg.greeting_days), cfg.local_hour, tz)
    now_utc = now.astimezone(UTC)
    if due < now_utc:
        due = due_today(now_utc, tz, cfg.local_hour)
    what = "birthday" if rule == BIRTHDAY_GREETING else "anniversary"
    return PlannedTask(
        rule=rule,
        # One per occurrence: next year's birthday is a new task, this year's never twice.
        trigger_key=occurrence.isoformat(),
        due_time=due,
        title=f"Greet her before her {what} on {occurrence.strftime('%d %B')}",
    )


def scan_elsewhere(
    scan: str, scanned: str, scanned_store: str, when: datetime, tz: ZoneInfo, cfg: TaskRuleConfig
) -> PlannedTask:
    """For the manager of her store: she scanned the card of `scanned` (`associates/{id}`)
    of another store (`scanned_store`). Due today in the store; one per scan (`scan`)."""
    return PlannedTask(
        rule=SCAN_ELSEWHERE,
        trigger_key=scan,
        due_time=due_today(when.astimezone(UTC), tz, cfg.local_hour),
        title=f"She scanned the card of {scanned} ({scanned_store}): ask headquarters to transfer her if she wishes",
    )


def appointment_preparation(
    appointment: str, start: datetime, booked: datetime, tz: ZoneInfo, cfg: TaskRuleConfig
) -> PlannedTask | None:
    """Prepare the assortment the local day before at the store's hour; for a visit booked
    later than that, at booking. None for an appointment already started."""
    start = start.astimezone(UTC)
    booked = booked.astimezone(UTC)
    if start <= booked:
        return None
    due = at_local(local_day(start, tz) - timedelta(days=1), cfg.local_hour, tz)
    return PlannedTask(
        rule=APPOINTMENT_PREPARATION,
        trigger_key=appointment,
        due_time=min(max(due, booked), start),
        title="Prepare her assortment for the appointment",
    )


_GREETING_OF_DATE: dict[int, str] = {
    ImportantDateKind.BIRTHDAY: BIRTHDAY_GREETING,
    ImportantDateKind.ANNIVERSARY: ANNIVERSARY_GREETING,
}


def greeting_rule(important_date_kind: int) -> str | None:
    return _GREETING_OF_DATE.get(important_date_kind)


def next_greeting_after(trigger_key: str, now: datetime) -> datetime:
    """When a greeting is done (or dropped), the next one is planned from the day after
    this occurrence (its trigger key, an ISO date), so it is next year's."""
    after = datetime.fromisoformat(trigger_key).replace(tzinfo=UTC) + timedelta(days=1)
    return max(after, now)


def check_actionable(status: int, name: str) -> None:
    """Only open and snoozed tasks are completed, snoozed or cancelled."""
    if status not in ACTIONABLE:
        word = TaskStatus(status).word
        raise FailedPrecondition(
            f"the task is {word}", reason="TASK_CLOSED", metadata={"resource": name, "status": word}
        )


def manual_assignee(caller: Principal, associate_id: str) -> str:
    """Who a task made by hand is for: the associate named, else an associate herself."""
    if not associate_id and caller.role is Role.ASSOCIATE:
        return caller.associate_id
    return associate_id


def manual_route(caller: Principal, associate_id: str, store_id: str, home: str | None, default: Route) -> Route:
    """Where a task made by hand goes. It lives in the store of the associate who has to
    do it (`home`: her store, None when she does not exist); without an associate, the
    store named, the caller's or the customer's (`default`)."""
    if associate_id:
        if home is None and caller.role is not Role.ASSOCIATE:
            raise invalid("task.associate", "no such associate")
        if home and store_id and store_id != home:
            raise invalid("task.store", f"the associate works in stores/{home}")
        store_id = store_id or home or ""
    return Route(
        associate_id or default.associate_id,
        store_id or bare(caller.store, "stores") or default.store_id,
        default.time_zone,
    )


def snooze_problem(until: datetime, now: datetime) -> str | None:
    """What is wrong with a snooze (a violation of snooze_until), None when it is fine."""
    if until <= now:
        return "must be in the future"
    if until > now + MAX_SNOOZE:
        return "at most 90 days ahead"
    return None
