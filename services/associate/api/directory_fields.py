"""Store and associate fields of a request, read into the columns they are stored in;
every bad field is reported in the request's Violations. The create and update requests
of both resources are read the same way (DirectoryFields)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

from google.type import timeofday_pb2

from atelier.associate.v1 import associate_pb2, store_pb2
from servicekit import names
from servicekit.errors import Violations
from servicekit.uow import parse_etag, update_paths

from ..domain import staff, stores
from ..usecases.writes import Change
from .requests import chosen_id, request_id, resource_id

M = TypeVar("M")


def _minutes(t: timeofday_pb2.TimeOfDay) -> int:
    return stores.minutes(t.hours, t.minutes)


def _valid(t: timeofday_pb2.TimeOfDay) -> bool:
    return stores.valid_time_of_day(t.hours, t.minutes, t.seconds, t.nanos)


def _opening(open_time: timeofday_pb2.TimeOfDay, close_time: timeofday_pb2.TimeOfDay) -> bool:
    """Open for a whole number of minutes, closing after opening on the same day."""
    return _valid(open_time) and _valid(close_time) and _minutes(close_time) > _minutes(open_time)


def _display_name(violations: Violations, value: str, field: str, maximum: int) -> str:
    name = value.strip()
    violations.require(0 < len(name) <= maximum, field, f"required, at most {maximum} characters")
    return name


def read_store(
    store: store_pb2.Store, paths: Collection[str], prefix: str, violations: Violations
) -> dict[str, object]:
    """The columns for `paths`."""
    out: dict[str, object] = {}
    if "code" in paths:
        violations.require(
            bool(stores.CODE.match(store.code)), prefix + "code", "required: 1-32 letters, digits, - or _"
        )
        out["code"] = store.code
    if "display_name" in paths:
        out["display_name"] = _display_name(
            violations, store.display_name, prefix + "display_name", stores.MAX_DISPLAY_NAME
        )
    if "time_zone" in paths:
        violations.require(
            stores.valid_time_zone(store.time_zone),
            prefix + "time_zone",
            "required: an IANA time zone such as Europe/Paris",
        )
        out["time_zone"] = store.time_zone
    if "region" in paths:
        violations.require(
            len(store.region) <= stores.MAX_REGION, prefix + "region", f"at most {stores.MAX_REGION} characters"
        )
        out["region"] = store.region.strip()
    if "weekly_hours" in paths:
        out["weekly_hours"] = _weekly_hours(store, prefix, violations)
    if "exceptions" in paths:
        out["exceptions"] = _exceptions(store, prefix, violations)
    return out


def _weekly_hours(store: store_pb2.Store, prefix: str, violations: Violations) -> list[dict[str, int]]:
    hours = []
    for i, h in enumerate(store.weekly_hours):
        at = f"{prefix}weekly_hours[{i}]"
        if h.day not in stores.WEEKDAYS:
            violations.add(at + ".day", "required: a weekday")
        if not _opening(h.open_time, h.close_time):
            violations.add(at + ".close_time", "must be a whole minute after open_time, on the same day")
        hours.append({"day": int(h.day), "open": _minutes(h.open_time), "close": _minutes(h.close_time)})
    return sorted(hours, key=lambda x: (x["day"], x["open"]))


def _exceptions(store: store_pb2.Store, prefix: str, violations: Violations) -> list[dict[str, object]]:
    seen: set[date] = set()
    items: list[dict[str, object]] = []
    for i, e in enumerate(store.exceptions):
        at = f"{prefix}exceptions[{i}]"
        try:
            day = date(e.date.year, e.date.month, e.date.day)
        except ValueError:
            violations.add(at + ".date", "required: a full calendar date")
            continue
        if day in seen:
            violations.add(at + ".date", "another exception has this date")
        seen.add(day)
        if not e.closed and not _opening(e.open_time, e.close_time):
            violations.add(at + ".close_time", "must be after open_time unless the store is closed")
        items.append(
            {
                "date": day.isoformat(),
                "closed": e.closed,
                "open": _minutes(e.open_time),
                "close": _minutes(e.close_time),
                "label": e.label.strip()[: stores.MAX_LABEL],
            }
        )
    return sorted(items, key=lambda x: str(x["date"]))


def read_associate(
    associate: associate_pb2.Associate, paths: Collection[str], prefix: str, violations: Violations
) -> dict[str, object]:
    """The columns for `paths` (`store` is stored as `store_id`)."""
    out: dict[str, object] = {}
    if "store" in paths:
        store_id = resource_id(violations, associate.store, "stores", prefix + "store")
        if store_id:
            out["store_id"] = store_id
    if "display_name" in paths:
        out["display_name"] = _display_name(
            violations, associate.display_name, prefix + "display_name", staff.MAX_DISPLAY_NAME
        )
    if "role" in paths:
        violations.require(
            int(associate.role) in list(staff.StaffRole), prefix + "role", "required: associate, manager or hq"
        )
        out["role"] = int(associate.role)
    if "status" in paths:
        violations.require(
            int(associate.status) in staff.SETTABLE_STATUSES,
            prefix + "status",
            "active or on leave; departures go through DepartAssociate, which hands the book over",
        )
        out["status"] = int(associate.status)
    if "languages" in paths:
        for i, lang in enumerate(associate.languages):
            violations.require(
                bool(staff.LANGUAGE.match(lang)), f"{prefix}languages[{i}]", "a BCP-47 tag such as fr or zh-Hans"
            )
        out["languages"] = list(dict.fromkeys(associate.languages))
    if "specialities" in paths:
        for i, speciality in enumerate(associate.specialities):
            violations.require(
                bool(staff.SPECIALITY.match(speciality)),
                f"{prefix}specialities[{i}]",
                "lower-case words joined by -, e.g. high-jewellery",
            )
        out["specialities"] = list(dict.fromkeys(associate.specialities))
    if "capacity" in paths:
        violations.require(
            0 <= associate.capacity <= staff.MAX_CAPACITY, prefix + "capacity", f"between 0 and {staff.MAX_CAPACITY}"
        )
        out["capacity"] = associate.capacity
    return out


@dataclass(frozen=True)
class DirectoryFields(Generic[M]):
    """How the create and update requests of a directory resource are read: `field` is the
    request field holding it (`store`), `collection` its names' (`stores`)."""

    field: str
    collection: str
    updatable: tuple[str, ...]
    output_only: tuple[str, ...]
    read: Callable[[M, Collection[str], str, Violations], dict[str, object]]

    def created(
        self, present: bool, resource: M, fields: Collection[str], chosen: str, request: str
    ) -> tuple[str, dict[str, object]]:
        """(the id the client chose or '', the columns of `fields`) of a create request."""
        violations = Violations()
        violations.require(present, self.field, "required")
        values = self.read(resource, fields, f"{self.field}.", violations)
        resource_id_ = chosen_id(violations, chosen, f"{self.field}_id")
        request_id(violations, request)
        violations.raise_if_any()
        return resource_id_, values

    def change(self, resource: M, name: str, etag: str, mask: Iterable[str]) -> Change:
        """The change an update request asks for (its update mask, values and etag)."""
        violations = Violations()
        changed_id = names.parse(name, self.collection, f"{self.field}.name")
        paths = update_paths(mask, self.updatable, self.output_only, violations)
        values = self.read(resource, paths, f"{self.field}.", violations)
        expected = parse_etag(etag, f"{self.field}.etag", violations)
        violations.raise_if_any()
        return Change(changed_id, name, paths, values, expected)


STORE = DirectoryFields("store", "stores", stores.UPDATABLE, stores.OUTPUT_ONLY, read_store)
ASSOCIATE = DirectoryFields("associate", "associates", staff.UPDATABLE, staff.OUTPUT_ONLY, read_associate)
