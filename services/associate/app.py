"""Wiring of the associate service: runtime, servicers and event consumers.

Each capability registers here: its gRPC servicer (added in `register`, its full service
name in GRPC_SERVICES) and its consumers (`runtime.add_consumer`).
"""

from __future__ import annotations

from pathlib import Path

from servicekit.config import ServiceConfig
from servicekit.server import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"
GRPC_SERVICES: list[str] = []


def build(config: ServiceConfig):
    runtime = ServiceRuntime(config, grpc_services=GRPC_SERVICES, migrations_dir=MIGRATIONS)

    def register(server) -> None:
        pass

    return runtime, register
