"""Stores and associates as contract messages."""

from __future__ import annotations

from datetime import date

from atelier.associate.v1 import associate_pb2, store_pb2
from servicekit.wire import etag

from ..storage.associates import AssociateRow
from ..storage.stores import StoreRow
from .timestamps import stamped


def store(row: StoreRow) -> store_pb2.Store:
    msg = store_pb2.Store(
        name=f"stores/{row.id}",
        code=row.code,
        display_name=row.display_name,
        time_zone=row.time_zone,
        region=row.region,
        etag=etag(row.version),
    )
    for h in row.weekly_hours:
        hours = msg.weekly_hours.add(day=h["day"])
        hours.open_time.hours, hours.open_time.minutes = divmod(h["open"], 60)
        hours.close_time.hours, hours.close_time.minutes = divmod(h["close"], 60)
    for e in row.exceptions:
        day = date.fromisoformat(e["date"])
        exception = msg.exceptions.add(closed=e["closed"], label=e["label"])
        exception.date.year, exception.date.month, exception.date.day = day.year, day.month, day.day
        if not e["closed"]:
            exception.open_time.hours, exception.open_time.minutes = divmod(e["open"], 60)
            exception.close_time.hours, exception.close_time.minutes = divmod(e["close"], 60)
    return stamped(msg, create_time=row.create_time, update_time=row.update_time)


def associate(row: AssociateRow) -> associate_pb2.Associate:
    msg = associate_pb2.Associate(
        name=f"associates/{row.id}",
        store=f"stores/{row.store_id}",
        display_name=row.display_name,
        role=associate_pb2.StaffRole.ValueType(row.role),
        status=associate_pb2.AssociateStatus.ValueType(row.status),
        languages=row.languages,
        specialities=row.specialities,
        capacity=row.capacity,
        referral_code=row.referral_code,
        book_size=row.book_size,
        etag=etag(row.version),
    )
    return stamped(msg, create_time=row.create_time, update_time=row.update_time)
