"""Wiring of the associate service, all of it: the runtime, the unit-of-work factory, the
caller gate, the three gRPC servicers, the four durable consumers and the background jobs.

Layers (docs/architecture.md): api/ reads requests and calls usecases/, consumers/ and
jobs/ do the same for events and periodic work; a use case is the only place that opens
a unit of work; domain/ holds the rules, messages/ the contract messages, storage/ the SQL.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from pathlib import Path

import grpc

from atelier.associate.v1 import associate_service_pb2_grpc, performance_service_pb2_grpc, task_service_pb2_grpc
from servicekit.audit import AuditWriter
from servicekit.callers import CallerGate
from servicekit.config import ServiceConfig
from servicekit.server import ServiceRuntime
from servicekit.uow import Transactions

from .api import associate_service, performance_service, task_service
from .consumers import assignment, attribution, book, tasks
from .domain.attribution import window_from_env
from .domain.tasks import TaskRuleConfig
from .jobs import greeting_sweep, resume_hand_overs
from .usecases import callers

MIGRATIONS = Path(__file__).parent / "migrations"
GRPC_SERVICES = [associate_service.SERVICE_NAME, task_service.SERVICE_NAME, performance_service.SERVICE_NAME]
# Strong references to one-off startup tasks (the loop keeps only weak ones).
_background: set[asyncio.Task[int]] = set()


def build(config: ServiceConfig) -> tuple[ServiceRuntime, Callable[[grpc.aio.Server], None]]:
    """The service's runtime and the function that adds its servicers to the gRPC server
    (called by runtime.start, inside the running loop)."""
    runtime = ServiceRuntime(config, grpc_services=GRPC_SERVICES, migrations_dir=MIGRATIONS)
    tx = Transactions(runtime.engine)
    # A departed, suspended or moved member of staff is refused on every RPC (audit item 7).
    runtime.set_caller_gate(CallerGate(callers.standings(tx)))
    # Settings from the environment, checked now: a bad value stops the start.
    task_rules = TaskRuleConfig.from_env(os.environ)
    attribution_window = window_from_env(os.environ)

    runtime.add_consumer(
        purpose="assignment",
        event_types=assignment.EVENT_TYPES,
        handler=functools.partial(assignment.handle, config=task_rules),
    )
    runtime.add_consumer(purpose="book", event_types=book.EVENT_TYPES, handler=book.handle)
    runtime.add_consumer(
        purpose="tasks", event_types=tasks.EVENT_TYPES, handler=functools.partial(tasks.handle, config=task_rules)
    )
    runtime.add_consumer(
        purpose="attribution",
        event_types=attribution.EVENT_TYPES,
        handler=functools.partial(attribution.handle, window=attribution_window),
    )
    runtime.add_periodic(
        "greeting-sweep", greeting_sweep.EVERY_SECONDS, functools.partial(greeting_sweep.run, tx, task_rules)
    )

    # Reads of personal data (client books, exports) are audited; what is buffered is written at shutdown.
    audit = AuditWriter(runtime.engine)
    runtime.on_drained(audit.close)

    def register(server: grpc.aio.Server) -> None:
        associate_service_pb2_grpc.add_AssociateServiceServicer_to_server(
            associate_service.AssociateServicer(tx, audit), server
        )
        task_service_pb2_grpc.add_TaskServiceServicer_to_server(task_service.TaskServicer(tx, task_rules), server)
        performance_service_pb2_grpc.add_PerformanceServiceServicer_to_server(
            performance_service.PerformanceServicer(tx), server
        )
        # Hand-overs a crash left half-way carry on as soon as a replica starts.
        resume = asyncio.get_running_loop().create_task(resume_hand_overs.run(tx))
        _background.add(resume)
        resume.add_done_callback(_background.discard)

    return runtime, register
