"""Duplicates and merges on CustomerService: FindDuplicates, MergeCustomers,
UnmergeCustomers, GetMerge. Mixed into CustomerServicer, which holds the engine."""

from __future__ import annotations

from atelier.customer.v1 import customer_service_pb2 as api
from servicekit import context, idempotency, names, outbox, paging, wire
from servicekit.errors import FailedPrecondition, NotFound, Violations, invalid

from . import events
from .domain import merging, profile, stewardship
from .storage import customers, mapping, merges

_PROFILE = ("given_name", "family_name", "preferred_name", "locale", "home_store", "tier",
            "tags", "preferences", "important_dates")  # fmt: skip


def merge_message(row: merges.MergeRow) -> api.Merge:
    msg = api.Merge(
        name=f"merges/{row.id}",
        survivor=f"customers/{row.survivor_id}",
        duplicate=f"customers/{row.duplicate_id}",
        actor=row.actor,
        undo_actor=row.undo_actor,
        moved=merges.counts(row.moved),
    )
    msg.create_time.CopyFrom(wire.timestamp(row.create_time))
    if row.undo_time is not None:
        msg.undo_time.CopyFrom(wire.timestamp(row.undo_time))
    return msg


def _profile(row) -> dict:
    return {k: getattr(row, k) for k in _PROFILE}


class MergeMethods:
    _engine = None  # provided by CustomerServicer

    async def FindDuplicates(self, request, context_):
        caller = context.principal()
        stewardship.check_find_duplicates(caller)
        cid = names.parse(request.customer, "customers", "customer") if request.customer else None
        size = paging.page_size(request.page_size)
        min_score = request.min_score or 0.5
        if not 0 <= min_score <= 1:
            raise invalid("min_score", "between 0 and 1")
        async with self._engine.connect() as conn:
            rows = await merges.candidates(conn, cid)
        found = []
        for r in rows:
            kinds = list(r.reasons)
            score = merging.score(sorted(set(kinds)))
            if score < min_score:
                continue
            older, younger = (r.x, r.y) if r.x_older else (r.y, r.x)
            candidate = api.DuplicateCandidate(
                customer=f"customers/{older}", other=f"customers/{younger}", score=score,
                reasons=[api.DuplicateReason(kind=k, detail=d) for k, d in zip(kinds, r.details)],
            )
            found.append(candidate)
        found.sort(key=lambda c: (-c.score, c.customer, c.other))
        return api.FindDuplicatesResponse(candidates=found[:size])

    async def MergeCustomers(self, request, context_):
        caller = context.principal()
        violations = Violations()
        ids = {}
        for field in ("survivor", "duplicate"):
            try:
                ids[field] = names.parse(getattr(request, field), "customers", field)
            except Exception as exc:
                violations.items.extend(exc.violations)
        if len(ids) == 2 and ids["survivor"] == ids["duplicate"]:
            violations.add("duplicate", "a customer cannot be merged into herself")
        try:
            idempotency.check_request_id(request.request_id)
        except Exception as exc:
            violations.items.extend(exc.violations)
        violations.raise_if_any()
        stewardship.check_merge(caller)
        survivor, duplicate = ids["survivor"], ids["duplicate"]

        async with self._engine.begin() as conn:
            if request.request_id:
                first = await idempotency.claim(conn, "MergeCustomers", request.request_id, request, caller.subject)
                if first is not None:
                    return api.Merge.FromString(first)
            found = await merges.lock(conn, [survivor, duplicate])
            for field, cid in ids.items():
                if cid not in found:
                    raise NotFound(getattr(request, field))
            rows = await customers.get_many(conn, [survivor, duplicate])
            values, changes = merging.combine(_profile(rows[survivor]), _profile(rows[duplicate]))
            moved = await merges.move(conn, survivor, duplicate)
            moved["survivor_changes"] = changes
            if values or moved["contact_points"]:
                current = await customers.search_inputs(conn, survivor)
                values["search_text"] = profile.search_text({**current, **values})
            await customers.update(conn, survivor, values)
            row = await merges.record(conn, names.new_id(), survivor, duplicate, caller.subject, moved)
            result = merge_message(row)
            await outbox.record(conn, events.merged(result.survivor, result.duplicate, result.name, caller.subject))
            if request.request_id:
                await idempotency.remember(conn, "MergeCustomers", request.request_id, result)
        return result

    async def UnmergeCustomers(self, request, context_):
        caller = context.principal()
        merge_id = names.parse(request.name, "merges", "name")
        stewardship.check_merge(caller)
        async with self._engine.begin() as conn:
            merge = await merges.get(conn, merge_id, lock=True)
            if merge is None:
                raise NotFound(request.name)
            if merge.undo_time is not None:
                raise FailedPrecondition(
                    f"{request.name} was already undone", reason="MERGE_ALREADY_UNDONE",
                    metadata={"merge": request.name},
                )
            if merge.moved.get("erased"):
                raise FailedPrecondition(
                    f"{request.name} involves an erased customer and can no longer be undone",
                    reason="CUSTOMER_ERASED", metadata={"merge": request.name},
                )
            later = await merges.later_dependent(conn, merge_id)
            if later is not None:
                raise FailedPrecondition(
                    f"merges/{later} came later and involves the same customers; undo it first",
                    reason="LATER_MERGE_DEPENDS",
                    metadata={"merge": request.name, "later_merge": f"merges/{later}"},
                )
            if not await merges.lock(conn, [merge.survivor_id]):
                raise FailedPrecondition(
                    f"customers/{merge.survivor_id} no longer exists", reason="SURVIVOR_GONE",
                    metadata={"merge": request.name},
                )
            undone = await merges.move_back(conn, merge, caller.subject)
            current = await customers.get(conn, merge.survivor_id)
            values = merging.revert(_profile(current), merge.moved.get("survivor_changes", {}))
            inputs = await customers.search_inputs(conn, merge.survivor_id)
            values["search_text"] = profile.search_text({**inputs, **values})
            await customers.update(conn, merge.survivor_id, values)
            restored = mapping.customer(await customers.get(conn, merge.duplicate_id))
            result = merge_message(undone)
            await outbox.record(
                conn, events.unmerged(result.survivor, result.duplicate, result.name, restored, caller.subject)
            )
        return result

    async def GetMerge(self, request, context_):
        caller = context.principal()
        merge_id = names.parse(request.name, "merges", "name")
        stewardship.check_merge(caller)
        async with self._engine.connect() as conn:
            merge = await merges.get(conn, merge_id)
        if merge is None:
            raise NotFound(request.name)
        return merge_message(merge)
