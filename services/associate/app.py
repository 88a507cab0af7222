"""Wiring of the associate service: runtime, servicers and event consumers.

Each capability registers here: its gRPC servicer (added in `register`, its full service
name in GRPC_SERVICES) and its consumers (`runtime.add_consumer`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from servicekit.config import ServiceConfig
from servicekit.server import ServiceRuntime

from atelier.associate.v1 import associate_service_pb2_grpc

from . import book_feed, handover, rules, tasks_wiring
from .servicer import SERVICE_NAME as ASSOCIATE_SERVICE, AssociateServicer

MIGRATIONS = Path(__file__).parent / "migrations"
GRPC_SERVICES: list[str] = [ASSOCIATE_SERVICE, *tasks_wiring.GRPC_SERVICES]
# Strong references to one-off startup tasks (the loop keeps only weak ones).
_background: set[asyncio.Task] = set()


def build(config: ServiceConfig):
    runtime = ServiceRuntime(config, grpc_services=GRPC_SERVICES, migrations_dir=MIGRATIONS)
    register_tasks = tasks_wiring.add_to(runtime)
    runtime.add_consumer(purpose="assignment", event_types=rules.EVENT_TYPES, handler=rules.handle)
    runtime.add_consumer(purpose="book", event_types=book_feed.EVENT_TYPES, handler=book_feed.handle)

    def register(server) -> None:
        associate_service_pb2_grpc.add_AssociateServiceServicer_to_server(AssociateServicer(runtime.engine), server)
        register_tasks(server)
        # Hand-overs a crash left half-way carry on as soon as a replica starts.
        resume = asyncio.get_running_loop().create_task(handover.resume_all(runtime.engine))
        _background.add(resume)
        resume.add_done_callback(_background.discard)

    return runtime, register
