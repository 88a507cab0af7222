"""PerformanceService over gRPC: figures, the attribution ledger and its corrections. Each
RPC reads its request into plain values and calls one use case."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import grpc
from google.protobuf import timestamp_pb2

from atelier.associate.v1 import performance_pb2, performance_service_pb2_grpc
from atelier.associate.v1 import performance_service_pb2 as api
from servicekit.context import principal
from servicekit.errors import Violations
from servicekit.uow import Transactions, parse_etag

from ..domain import access
from ..domain.access import FigureScope
from ..domain.attribution import MAX_REASON
from ..domain.periods import period_problem
from ..usecases import performance
from . import requests

SERVICE_NAME = api.DESCRIPTOR.services_by_name["PerformanceService"].full_name
Context = grpc.aio.ServicerContext[Any, Any]


class _Period(Protocol):
    """A request naming a period (start_time, end_time)."""

    @property
    def start_time(self) -> timestamp_pb2.Timestamp: ...
    @property
    def end_time(self) -> timestamp_pb2.Timestamp: ...
    def HasField(self, field_name: Any) -> bool: ...


def _scope(violations: Violations, value: str) -> FigureScope:
    scope = access.parse_scope(value)
    if scope is None:
        violations.add("scope", "must be associates/<id>, stores/<id> or empty")
        return FigureScope()
    return scope


def _period(request: _Period, violations: Violations, *, required: bool) -> tuple[datetime | None, datetime | None]:
    start = requests.time(request.start_time) if request.HasField("start_time") else None
    end = requests.time(request.end_time) if request.HasField("end_time") else None
    if required:
        violations.require(start is not None, "start_time", "required")
        violations.require(end is not None, "end_time", "required")
    if start is not None and end is not None:
        problem = period_problem(start, end)
        if problem:
            violations.add("end_time", problem)
    return start, end


class PerformanceServicer(performance_service_pb2_grpc.PerformanceServiceServicer):
    def __init__(self, tx: Transactions):
        self._tx = tx

    async def GetPerformance(self, request: api.GetPerformanceRequest, context: Context) -> performance_pb2.Performance:
        caller = principal()
        violations = Violations()
        scope = _scope(violations, request.scope)
        _period(request, violations, required=True)
        violations.raise_if_any()
        start, end = requests.time(request.start_time), requests.time(request.end_time)  # both set: required
        return await performance.get_performance(self._tx, caller, scope, request.scope, start, end)

    async def ListAttributions(
        self, request: api.ListAttributionsRequest, context: Context
    ) -> api.ListAttributionsResponse:
        caller = principal()
        violations = Violations()
        scope = _scope(violations, request.scope)
        start, end = _period(request, violations, required=False)
        size = requests.page_size(violations, request.page_size)
        query = f"{request.scope}|{start}|{end}"
        page = requests.collected_page(violations, size, request.page_token, query, (datetime, str))
        violations.raise_if_any()
        return await performance.list_attributions(self._tx, caller, scope if request.scope else None, start, end, page)

    async def CorrectAttribution(
        self, request: api.CorrectAttributionRequest, context: Context
    ) -> performance_pb2.Attribution:
        caller = principal()
        violations = Violations()
        attribution_id = requests.resource_id(violations, request.name, "attributions", "name")
        associate_id = requests.optional_id(violations, request.associate, "associates", "associate")
        reason = request.reason.strip()
        if not reason:
            violations.add("reason", "required: why the credit changes (kept in the audit history)")
        elif len(reason) > MAX_REASON:
            violations.add("reason", f"at most {MAX_REASON} characters")
        expected = parse_etag(request.etag, "etag", violations)
        violations.raise_if_any()
        return await performance.correct_attribution(
            self._tx, caller, attribution_id, request.name, associate_id, reason, expected
        )
