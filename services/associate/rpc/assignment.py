"""Assignments over gRPC: who holds a customer, her history, the pool, transfers and claims."""

from __future__ import annotations

from datetime import datetime

from atelier.associate.v1 import assignment_pb2, associate_service_pb2 as api
from atelier.events.v1.associate_events_pb2 import AssignmentRole
from servicekit import context, idempotency, names, outbox, paging
from servicekit.auth import Role
from servicekit.errors import FailedPrecondition, NotFound, Violations, invalid

from .. import events
from ..domain import access, assignment as rules, staff
from ..storage import assignments, book as book_db, claims as claims_db, mapping, staff as staff_db

MAX_REASON = 1000


def _customer_of_assignment(name: str, field: str = "name") -> str:
    if not name.endswith("/assignment"):
        raise invalid(field, "must look like customers/<id>/assignment")
    return names.parse(name[: -len("/assignment")], "customers", field)


async def _facts(conn, customer_id: str):
    """Holders, their stores and her home store: what access decisions need."""
    holding = await assignments.holding(conn, customer_id)
    holders = {a for a in (holding.primary, *holding.secondaries) if a}
    rows = await staff_db.get_many(conn, list(holders))
    holder_stores = {f"stores/{r.store_id}" for r in rows.values()}
    home = await book_db.home_store(conn, customer_id)
    return holding, holders, holder_stores, home


class AssignmentRpcs:
    _engine = None

    async def GetCustomerAssignment(self, request, context_):
        caller = context.principal()
        cid = _customer_of_assignment(request.name)
        async with self._engine.connect() as conn:
            holding, holders, stores, home = await _facts(conn, cid)
        if not access.can_see_customer(caller, holders, stores, home):
            raise access.deny(caller, f"see {request.name}", reason="CUSTOMER_OUT_OF_SCOPE", resource=request.name)
        if not holders and not holding.in_pool:
            raise NotFound(request.name)
        return mapping.customer_assignment(cid, holding)

    async def ListAssignmentHistory(self, request, context_):
        caller = context.principal()
        cid = names.parse(request.parent, "customers", "parent")
        size = paging.page_size(request.page_size)
        before = paging.decode(request.page_token, request.parent, shape=(int,))
        async with self._engine.connect() as conn:
            _, holders, stores, home = await _facts(conn, cid)
            if not access.can_see_customer(caller, holders, stores, home):
                raise access.deny(caller, f"see {request.parent}", reason="CUSTOMER_OUT_OF_SCOPE", resource=request.parent)
            rows = await assignments.history_page(conn, cid, before[0] if before else None, size + 1)
        response = api.ListAssignmentHistoryResponse(records=[mapping.record(r) for r in rows[:size]])
        response.next_page_token = paging.next_token(rows, size, request.parent, lambda last: [last.id])
        return response

    async def ListUnassigned(self, request, context_):
        caller = context.principal()
        access.check_see_pool(caller)
        size = paging.page_size(request.page_size)
        after = paging.decode(request.page_token, "pool", shape=(datetime, str))
        async with self._engine.connect() as conn:
            rows = await assignments.pool_page(conn, after, size + 1)
        response = api.ListUnassignedResponse(
            assignments=[
                mapping.customer_assignment(
                    r.customer_id, assignments.Holding(None, None, None, (), r.reason, r.since)
                )
                for r in rows[:size]
            ]
        )
        response.next_page_token = paging.next_token(
            rows, size, "pool", lambda last: [last.since.isoformat(), last.customer_id]
        )
        return response

    async def TransferClient(self, request, context_):
        caller = context.principal()
        violations = Violations()
        cid = aid = None
        try:
            cid = _customer_of_assignment(request.name)
        except Exception as exc:
            violations.items.extend(exc.violations)
        try:
            aid = names.parse(request.associate, "associates", "associate")
        except Exception as exc:
            violations.items.extend(exc.violations)
        role = request.role or AssignmentRole.ASSIGNMENT_ROLE_PRIMARY
        violations.require(role in (1, 2), "role", "PRIMARY or SECONDARY")
        reason = request.reason.strip()
        violations.require(0 < len(reason) <= MAX_REASON, "reason", f"required, at most {MAX_REASON} characters")
        try:
            idempotency.check_request_id(request.request_id)
        except Exception as exc:
            violations.items.extend(exc.violations)
        violations.raise_if_any()
        async with self._engine.begin() as conn:
            if request.request_id:
                first = await idempotency.claim(conn, "TransferClient", request.request_id, request, caller.subject)
                if first is not None:
                    return assignment_pb2.CustomerAssignment.FromString(first)
            await assignments.lock(conn, cid)
            target = await staff_db.get(conn, aid)
            if target is None:
                raise NotFound(request.associate)
            if target.status == staff.DEPARTED:
                raise FailedPrecondition(
                    f"{request.associate} has departed", reason="ASSOCIATE_DEPARTED",
                    metadata={"associate": request.associate},
                )
            holding = await assignments.holding(conn, cid)
            # The stores concerned: the new holder's, and the current primary's (or, for a
            # customer nobody holds, her home store's — pool customers have none).
            concerned = {f"stores/{target.store_id}"}
            if role == AssignmentRole.ASSIGNMENT_ROLE_PRIMARY and holding.primary:
                concerned.add(f"stores/{(await staff_db.get(conn, holding.primary)).store_id}")
            elif not holding.primary and (home := await book_db.home_store(conn, cid)):
                concerned.add(home)
            access.check_transfer(caller, concerned, f"customers/{cid}")
            if role == AssignmentRole.ASSIGNMENT_ROLE_PRIMARY:
                changes = await assignments.set_primary(conn, cid, aid, rules.TRANSFER, reason, caller.subject)
            else:
                changes = await assignments.add_secondary(conn, cid, aid, rules.TRANSFER, reason, caller.subject)
            if changes:
                await outbox.record(conn, *(events.assignment_changed(c, caller.subject) for c in changes))
            result = mapping.customer_assignment(cid, await assignments.holding(conn, cid))
            if request.request_id:
                await idempotency.remember(conn, "TransferClient", request.request_id, result)
        return result

    async def ClaimClient(self, request, context_):
        caller = context.principal()
        violations = Violations()
        cid = None
        try:
            cid = names.parse(request.claim.customer, "customers", "claim.customer")
        except Exception as exc:
            violations.items.extend(exc.violations)
        reason = request.claim.reason.strip()
        violations.require(0 < len(reason) <= MAX_REASON, "claim.reason", f"required, at most {MAX_REASON} characters")
        try:
            idempotency.check_request_id(request.request_id)
        except Exception as exc:
            violations.items.extend(exc.violations)
        violations.raise_if_any()
        access.check_claim(caller)
        async with self._engine.begin() as conn:
            if request.request_id:
                first = await idempotency.claim(conn, "ClaimClient", request.request_id, request, caller.subject)
                if first is not None:
                    return assignment_pb2.Claim.FromString(first)
            me = await staff_db.get(conn, caller.associate_id)
            if me is None or me.status == staff.DEPARTED:
                raise FailedPrecondition(
                    f"associates/{caller.associate_id} is not an active associate", reason="ASSOCIATE_UNKNOWN",
                    metadata={"associate": f"associates/{caller.associate_id}"},
                )
            holding = await assignments.holding(conn, cid)
            if holding.primary == me.id:
                raise FailedPrecondition(
                    f"customers/{cid} is already in your book", reason="ALREADY_HELD",
                    metadata={"customer": f"customers/{cid}"},
                )
            row = await claims_db.insert(conn, names.new_id(), cid, me.id, reason)
            claim = mapping.claim(row)
            if request.request_id:
                await idempotency.remember(conn, "ClaimClient", request.request_id, claim)
        return claim

    async def ListClaims(self, request, context_):
        caller = context.principal()
        size = paging.page_size(request.page_size)
        key = f"state={int(request.state)}"
        after = paging.decode(request.page_token, key, shape=(datetime, str))
        associate = store = None
        if caller.role is Role.ASSOCIATE:
            associate = caller.associate_id
        elif caller.role is Role.MANAGER:
            store = caller.store.split("/", 1)[-1]
        async with self._engine.connect() as conn:
            rows = await claims_db.page(
                conn, state=int(request.state) or None, associate=associate, store=store, after=after, limit=size + 1
            )
        response = api.ListClaimsResponse(claims=[mapping.claim(r) for r in rows[:size]])
        response.next_page_token = paging.next_token(
            rows, size, key, lambda last: [last.create_time.isoformat(), last.id]
        )
        return response

    async def ApproveClaim(self, request, context_):
        return await self._decide(request, approve=True)

    async def RejectClaim(self, request, context_):
        return await self._decide(request, approve=False)

    async def _decide(self, request, *, approve: bool):
        caller = context.principal()
        violations = Violations()
        claim_id = None
        try:
            claim_id = names.parse(request.name, "claims", "name")
        except Exception as exc:
            violations.items.extend(exc.violations)
        note = request.note.strip()
        violations.require(len(note) <= MAX_REASON, "note", f"at most {MAX_REASON} characters")
        if not approve:
            violations.require(bool(note), "note", "required: why the claim is rejected")
        violations.raise_if_any()
        async with self._engine.begin() as conn:
            row = await claims_db.get_locked(conn, claim_id)
            if row is None:
                raise NotFound(request.name)
            claimant = await staff_db.get(conn, row.associate_id)
            access.check_decide_claim(caller, f"stores/{claimant.store_id}", request.name)
            if row.state != claims_db.PENDING:
                wanted = claims_db.APPROVED if approve else claims_db.REJECTED
                if row.state == wanted:
                    return mapping.claim(row)  # a repeated decision changes nothing
                raise FailedPrecondition(
                    f"{request.name} was already decided", reason="CLAIM_DECIDED", metadata={"resource": request.name}
                )
            if approve:
                if claimant.status == staff.DEPARTED:
                    raise FailedPrecondition(
                        f"associates/{claimant.id} has departed", reason="ASSOCIATE_DEPARTED",
                        metadata={"associate": f"associates/{claimant.id}"},
                    )
                await assignments.lock(conn, row.customer_id)
                holding = await assignments.holding(conn, row.customer_id)
                if holding.primary and not access.everywhere(caller):
                    current = await staff_db.get(conn, holding.primary)
                    access.check_transfer(caller, {f"stores/{current.store_id}"}, f"customers/{row.customer_id}")
                changes = await assignments.set_primary(
                    conn, row.customer_id, claimant.id, rules.CLAIM, note or row.reason, caller.subject
                )
                if changes:
                    await outbox.record(conn, *(events.assignment_changed(c, caller.subject) for c in changes))
            decided = await claims_db.decide(
                conn, claim_id, claims_db.APPROVED if approve else claims_db.REJECTED, note, caller.subject
            )
        return mapping.claim(decided)
