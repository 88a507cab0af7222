"""PerformanceService over gRPC: figures, the attribution ledger and its corrections."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from google.protobuf import duration_pb2
from sqlalchemy.ext.asyncio import AsyncEngine

from atelier.associate.v1 import performance_pb2, performance_service_pb2 as api, performance_service_pb2_grpc
from servicekit import context, names, outbox, paging, wire
from servicekit.auth import Role
from servicekit.errors import Aborted, NotFound, Violations, invalid

from . import task_events
from .domain import task_access
from .domain.attribution_rules import Basis
from .storage import ledger, performance, task_mapping

MAX_REASON = 1000
MAX_PERIOD = timedelta(days=3 * 366)


def _scope(violations: Violations, value: str, field: str) -> task_access.FigureScope:
    scope = task_access.parse_scope(value)
    if scope is None:
        violations.add(field, "must be associates/<id>, stores/<id> or empty")
        return task_access.FigureScope()
    return scope


def _period(request, violations: Violations, *, required: bool) -> tuple[datetime | None, datetime | None]:
    start = request.start_time.ToDatetime(tzinfo=timezone.utc) if request.HasField("start_time") else None
    end = request.end_time.ToDatetime(tzinfo=timezone.utc) if request.HasField("end_time") else None
    if required:
        violations.require(start is not None, "start_time", "required")
        violations.require(end is not None, "end_time", "required")
    if start is not None and end is not None:
        if end <= start:
            violations.add("end_time", "must be after start_time")
        elif end - start > MAX_PERIOD:
            violations.add("end_time", "a period spans at most 3 years")
    return start, end


class PerformanceServicer(performance_service_pb2_grpc.PerformanceServiceServicer):
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def _check_scope(self, conn, caller, scope: task_access.FigureScope) -> None:
        associate_store = None
        if scope.associate and caller.role is Role.MANAGER:
            associate_store = await performance.associate_store(conn, scope.associate)
        task_access.check_figures(caller, scope, associate_store)

    async def GetPerformance(self, request, context_):
        caller = context.principal()
        violations = Violations()
        scope = _scope(violations, request.scope, "scope")
        start, end = _period(request, violations, required=True)
        violations.raise_if_any()
        async with self._engine.connect() as conn:
            await self._check_scope(conn, caller, scope)
            figures = await performance.figures(conn, scope, start, end, datetime.now(timezone.utc))
        result = performance_pb2.Performance(
            scope=request.scope,
            attributed_orders=sum(line.orders for line in figures.sales if line.total),
            book_size=figures.book_size,
            new_referral_customers=figures.referrals,
            tasks_due=figures.tasks_due,
            tasks_done_on_time=figures.tasks_on_time,
            tasks_done_on_time_percent=(
                round(100.0 * figures.tasks_on_time / figures.tasks_due, 2) if figures.tasks_due else 0.0
            ),
            answered_messages=figures.answered,
            store_transactions=figures.store_transactions,
            store_transactions_known=figures.store_transactions_known,
            known_customer_share_percent=(
                round(100.0 * figures.store_transactions_known / figures.store_transactions, 2)
                if figures.store_transactions
                else 0.0
            ),
        )
        result.start_time.CopyFrom(wire.timestamp(start))
        result.end_time.CopyFrom(wire.timestamp(end))
        for line in figures.sales:
            result.sales.add(
                channel=0 if line.total else line.channel,
                amount=wire.to_money(line.currency, line.amount),
                orders=line.orders,
                average_order_value=wire.to_money(line.currency, line.amount / line.orders),
            )
        if figures.median_seconds is not None:
            seconds = int(figures.median_seconds)
            result.median_reply_time.CopyFrom(
                duration_pb2.Duration(seconds=seconds, nanos=int((figures.median_seconds - seconds) * 1e9))
            )
        return result

    async def ListAttributions(self, request, context_):
        caller = context.principal()
        violations = Violations()
        scope = _scope(violations, request.scope, "scope")
        start, end = _period(request, violations, required=False)
        size = 0
        try:
            size = paging.page_size(request.page_size)
        except Exception as exc:
            violations.items.extend(exc.violations)
        query = f"{request.scope}|{start}|{end}"
        after = None
        try:
            after = paging.decode(request.page_token, query, shape=(datetime, str))
        except Exception as exc:
            violations.items.extend(exc.violations)
        violations.raise_if_any()
        if not request.scope and not task_access.everywhere(caller):
            # Store staff default to what they may see.
            scope = (
                task_access.FigureScope(store=task_access.caller_store(caller))
                if caller.role is Role.MANAGER
                else task_access.FigureScope(associate=caller.associate_id)
            )
        async with self._engine.connect() as conn:
            await self._check_scope(conn, caller, scope)
            rows = await ledger.list_page(conn, scope=scope, start=start, end=end, after=after, limit=size + 1)
        response = api.ListAttributionsResponse(attributions=[task_mapping.attribution(r) for r in rows[:size]])
        response.next_page_token = paging.next_token(
            rows, size, query, lambda last: [last.order_time.isoformat(), last.id]
        )
        return response

    async def CorrectAttribution(self, request, context_):
        caller = context.principal()
        violations = Violations()
        aid = ""
        try:
            aid = names.parse(request.name, "attributions", "name")
        except Exception as exc:
            violations.items.extend(exc.violations)
        associate = ""
        if request.associate:
            try:
                associate = names.parse(request.associate, "associates", "associate")
            except Exception as exc:
                violations.items.extend(exc.violations)
        reason = request.reason.strip()
        if not reason:
            violations.add("reason", "required: why the credit changes (kept in the audit history)")
        elif len(reason) > MAX_REASON:
            violations.add("reason", f"at most {MAX_REASON} characters")
        expected = None
        if request.etag:
            expected = wire.parse_etag(request.etag)
            if expected is None:
                violations.add("etag", "not an etag returned by this API")
        violations.raise_if_any()
        async with self._engine.begin() as conn:
            row = await ledger.get(conn, aid, lock=True)
            if row is None:
                if task_access.everywhere(caller):
                    raise NotFound(request.name)
                # Store staff learn the same as for another store's entry (AIP-211).
                task_access.check_correct(caller, "", request.name)
            task_access.check_correct(caller, row.store_id, request.name)
            if expected is not None and expected != row.version:
                raise Aborted(
                    "the attribution changed since it was read; get it again and retry",
                    reason="ETAG_MISMATCH",
                    metadata={"current_etag": wire.etag(row.version)},
                )
            if associate == row.associate_id:
                raise invalid("associate", "already credited with this purchase")
            updated = await ledger.correct(
                conn, aid, previous=row.associate_id, associate=associate, reason=reason, actor=caller.subject,
                basis=Basis.ATTRIBUTION_BASIS_CORRECTED,
            )
            message = task_mapping.attribution(updated)
            previous = f"associates/{row.associate_id}" if row.associate_id else ""
            await outbox.record(
                conn, task_events.attribution_changed(message, caller.subject, previous=previous, reason=reason)
            )
        return message
