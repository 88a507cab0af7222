"""Stores and associates over gRPC: thin adapters between the API, the rules and storage."""

from __future__ import annotations

from datetime import datetime

from atelier.associate.v1 import associate_pb2, associate_service_pb2 as api, store_pb2
from servicekit import context, idempotency, names, outbox, paging, wire
from servicekit.errors import Aborted, NotFound, Violations, invalid

from .. import events
from ..domain import access, hours, staff
from ..storage import mapping, staff as staff_db, stores as stores_db


def _check_request_id(request_id: str, violations: Violations) -> None:
    try:
        idempotency.check_request_id(request_id)
    except Exception as exc:
        violations.items.extend(exc.violations)


def _mask(paths_in, updatable, output_only, violations: Violations) -> set[str]:
    paths = set(paths_in)
    if not paths:
        violations.add("update_mask", "required: the fields to change, or * for all")
        return set()
    if "*" in paths:
        return set(updatable)
    for path in sorted(paths):
        if path in output_only:
            violations.add("update_mask", f"{path} cannot be changed")
        elif path not in updatable:
            violations.add("update_mask", f"unknown field {path}")
    return paths & set(updatable)


def _expected_version(etag: str, field: str, violations: Violations) -> int | None:
    if not etag:
        return None
    version = wire.parse_etag(etag)
    if version is None:
        violations.add(field, "not an etag returned by this API")
    return version


def _stale(resource: str, version: int) -> Aborted:
    return Aborted(
        f"{resource} changed since it was read; get it again and retry",
        reason="ETAG_MISMATCH",
        metadata={"current_etag": wire.etag(version), "resource": resource},
    )


class DirectoryRpcs:
    _engine = None

    # -- stores ----------------------------------------------------------------

    async def GetStore(self, request, context_):
        context.principal()
        sid = names.parse(request.name, "stores", "name")
        async with self._engine.connect() as conn:
            row = await stores_db.get(conn, sid)
        if row is None:
            raise NotFound(request.name)
        return mapping.store(row)

    async def ListStores(self, request, context_):
        context.principal()
        size = paging.page_size(request.page_size)
        region = None
        if request.filter.strip():
            term = request.filter.strip()
            if not (term.startswith("region") and "=" in term):
                raise invalid("filter", 'only region = "<region>" is supported')
            region = term.split("=", 1)[1].strip().strip('"')
        after = paging.decode(request.page_token, request.filter, shape=(datetime, str))
        async with self._engine.connect() as conn:
            rows = await stores_db.page(conn, region, after, size + 1)
        response = api.ListStoresResponse(stores=[mapping.store(r) for r in rows[:size]])
        response.next_page_token = paging.next_token(
            rows, size, request.filter, lambda last: [last.create_time.isoformat(), last.id]
        )
        return response

    async def CreateStore(self, request, context_):
        caller = context.principal()
        violations = Violations()
        if not request.HasField("store"):
            violations.add("store", "required")
        values = hours.read(request.store, hours.UPDATABLE, "store.", violations)
        if request.store_id and not names.ID_PATTERN.match(request.store_id):
            violations.add("store_id", "3-63 characters of a-z, 0-9 and -")
        _check_request_id(request.request_id, violations)
        violations.raise_if_any()
        access.check_manage_stores(caller)
        async with self._engine.begin() as conn:
            if request.request_id:
                first = await idempotency.claim(conn, "CreateStore", request.request_id, request, caller.subject)
                if first is not None:
                    return store_pb2.Store.FromString(first)
            row = await stores_db.insert(conn, request.store_id or names.new_id(), values)
            created = mapping.store(row)
            await outbox.record(conn, events.store_changed(created, caller.subject, created=True))
            if request.request_id:
                await idempotency.remember(conn, "CreateStore", request.request_id, created)
        return created

    async def UpdateStore(self, request, context_):
        caller = context.principal()
        violations = Violations()
        sid = names.parse(request.store.name, "stores", "store.name")
        paths = _mask(request.update_mask.paths, hours.UPDATABLE, hours.OUTPUT_ONLY, violations)
        values = hours.read(request.store, tuple(paths), "store.", violations)
        expected = _expected_version(request.store.etag, "store.etag", violations)
        violations.raise_if_any()
        access.check_update_store(caller, request.store.name, paths)
        async with self._engine.begin() as conn:
            current = await stores_db.get(conn, sid, lock=True)
            if current is None:
                raise NotFound(request.store.name)
            if expected is not None and expected != current.version:
                raise _stale(request.store.name, current.version)
            updated = mapping.store(await stores_db.update(conn, sid, values))
            await outbox.record(conn, events.store_changed(updated, caller.subject, created=False))
        return updated

    # -- associates --------------------------------------------------------------

    async def GetAssociate(self, request, context_):
        context.principal()
        aid = names.parse(request.name, "associates", "name")
        async with self._engine.connect() as conn:
            row = await staff_db.get(conn, aid)
        if row is None:
            raise NotFound(request.name)
        return mapping.associate(row)

    async def ListAssociates(self, request, context_):
        context.principal()
        size = paging.page_size(request.page_size)
        flt = _associate_filter(request.filter)
        after = paging.decode(request.page_token, request.filter, shape=(datetime, str))
        async with self._engine.connect() as conn:
            rows = await staff_db.page(conn, flt, after, size + 1)
        response = api.ListAssociatesResponse(associates=[mapping.associate(r) for r in rows[:size]])
        response.next_page_token = paging.next_token(
            rows, size, request.filter, lambda last: [last.create_time.isoformat(), last.id]
        )
        return response

    async def CreateAssociate(self, request, context_):
        caller = context.principal()
        violations = Violations()
        if not request.HasField("associate"):
            violations.add("associate", "required")
        fields = tuple(f for f in staff.UPDATABLE if f != "status" or request.associate.status)
        values = staff.read(request.associate, fields, "associate.", violations)
        if request.associate_id and not names.ID_PATTERN.match(request.associate_id):
            violations.add("associate_id", "3-63 characters of a-z, 0-9 and -")
        _check_request_id(request.request_id, violations)
        violations.raise_if_any()
        store = f"stores/{values['store_id']}"
        access.check_create_associate(caller, store, values["role"], staff.HQ)
        async with self._engine.begin() as conn:
            if request.request_id:
                first = await idempotency.claim(conn, "CreateAssociate", request.request_id, request, caller.subject)
                if first is not None:
                    return associate_pb2.Associate.FromString(first)
            row = await staff_db.insert(conn, request.associate_id or names.new_id(), values, staff.new_referral_code)
            created = mapping.associate(row)
            await outbox.record(conn, events.associate_changed(created, caller.subject, created=True))
            if request.request_id:
                await idempotency.remember(conn, "CreateAssociate", request.request_id, created)
        return created

    async def UpdateAssociate(self, request, context_):
        caller = context.principal()
        violations = Violations()
        aid = names.parse(request.associate.name, "associates", "associate.name")
        paths = _mask(request.update_mask.paths, staff.UPDATABLE, staff.OUTPUT_ONLY, violations)
        values = staff.read(request.associate, tuple(paths), "associate.", violations)
        expected = _expected_version(request.associate.etag, "associate.etag", violations)
        violations.raise_if_any()
        async with self._engine.begin() as conn:
            current = await staff_db.get(conn, aid, lock=True)
            if current is None:
                raise NotFound(request.associate.name)
            access.check_update_associate(
                caller, aid, f"stores/{current.store_id}", paths, values, staff.SELF_SERVICE, staff.HQ
            )
            if current.status == staff.DEPARTED:
                raise Aborted(
                    f"{request.associate.name} has departed", reason="ASSOCIATE_DEPARTED",
                    metadata={"resource": request.associate.name},
                )
            if expected is not None and expected != current.version:
                raise _stale(request.associate.name, current.version)
            updated = mapping.associate(await staff_db.update(conn, aid, values))
            await outbox.record(conn, events.associate_changed(updated, caller.subject, created=False))
        return updated


def _associate_filter(text: str) -> dict:
    """`store = "stores/x"`, `status = ASSOCIATE_STATUS_ACTIVE`, `role = STAFF_ROLE_MANAGER`."""
    out: dict = {}
    if not text.strip():
        return out
    for term in text.strip().split(" AND "):
        if "=" not in term:
            raise invalid("filter", f"cannot read {term.strip()!r}; expected e.g. store = \"stores/paris\"")
        key, value = (p.strip().strip('"') for p in term.split("=", 1))
        try:
            if key == "store":
                out["store_id"] = names.parse(value, "stores", "filter")
            elif key == "status":
                out["status"] = associate_pb2.AssociateStatus.Value(value.upper())
            elif key == "role":
                out["role"] = associate_pb2.StaffRole.Value(value.upper())
            else:
                raise invalid("filter", f"unsupported term {term.strip()!r}; use store =, status =, role =")
        except ValueError:
            raise invalid("filter", f"unknown value {value!r} for {key}") from None
    return out
