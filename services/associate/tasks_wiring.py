"""Wiring of the task, attribution and performance capabilities into the associate
service's runtime (called from app.py)."""

from __future__ import annotations

from atelier.associate.v1 import (
    performance_service_pb2,
    performance_service_pb2_grpc,
    task_service_pb2,
    task_service_pb2_grpc,
)
from datetime import datetime, timezone

from servicekit.server import ServiceRuntime

from . import attribution_consumer, task_consumer
from .performance_servicer import PerformanceServicer
from .task_servicer import TaskServicer

TASK_SERVICE = task_service_pb2.DESCRIPTOR.services_by_name["TaskService"].full_name
PERFORMANCE_SERVICE = performance_service_pb2.DESCRIPTOR.services_by_name["PerformanceService"].full_name
GRPC_SERVICES = [TASK_SERVICE, PERFORMANCE_SERVICE]
GREETING_SWEEP_SECONDS = 3600.0


def add_to(runtime: ServiceRuntime):
    """Registers the consumers; returns the function that adds the servicers to the server."""
    rules = task_consumer.TaskRules()
    attribution = attribution_consumer.Attribution()
    runtime.add_consumer(purpose="tasks", event_types=task_consumer.EVENT_TYPES, handler=rules.handle)
    runtime.add_consumer(
        purpose="attribution", event_types=attribution_consumer.EVENT_TYPES, handler=attribution.handle
    )
    # Greetings nobody closed roll to next year; hourly is plenty and the sweep is idempotent.
    runtime.add_periodic(
        "greeting-sweep", GREETING_SWEEP_SECONDS,
        lambda: rules.sweep_greetings(runtime.engine, datetime.now(timezone.utc)),
    )

    def register(server) -> None:
        task_service_pb2_grpc.add_TaskServiceServicer_to_server(TaskServicer(runtime.engine, rules), server)
        performance_service_pb2_grpc.add_PerformanceServiceServicer_to_server(
            PerformanceServicer(runtime.engine), server
        )

    return register
