"""Wiring of the customer service: runtime, servicer, (later) event consumers."""

from __future__ import annotations

from pathlib import Path

from atelier.customer.v1 import customer_service_pb2, customer_service_pb2_grpc
from servicekit.config import ServiceConfig
from servicekit.server import ServiceRuntime

from .servicer import CustomerServicer

SERVICE_NAME = customer_service_pb2.DESCRIPTOR.services_by_name["CustomerService"].full_name
MIGRATIONS = Path(__file__).parent / "migrations"


def build(config: ServiceConfig):
    runtime = ServiceRuntime(config, grpc_services=[SERVICE_NAME], migrations_dir=MIGRATIONS)

    def register(server) -> None:
        customer_service_pb2_grpc.add_CustomerServiceServicer_to_server(CustomerServicer(runtime.engine), server)

    return runtime, register
