"""The services the gateway fronts: the one list to extend when a service joins the mesh.

Each entry names the gRPC services a backend serves and the environment variable holding
its address. Nothing else is needed: routes, OpenAPI operations and health checks all come
from the descriptors of those services. An entry is skipped (with a log line) when its
address variable is unset or its generated module is not importable, so the gateway can
front a partial mesh during development.
"""

from __future__ import annotations

import importlib
import logging
import re
from dataclasses import dataclass

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backend:
    name: str
    services: tuple[str, ...]
    address_env: str


BACKENDS: tuple[Backend, ...] = (
    Backend(
        "customer",
        (
            "atelier.customer.v1.CustomerService",
            "atelier.customer.v1.PurchaseService",
            "atelier.customer.v1.TimelineService",
            "atelier.customer.v1.PrivacyService",
        ),
        "ATELIER_CUSTOMER_ADDRESS",
    ),
    Backend(
        "associate",
        (
            "atelier.associate.v1.AssociateService",
            "atelier.associate.v1.TaskService",
            "atelier.associate.v1.PerformanceService",
        ),
        "ATELIER_ASSOCIATE_ADDRESS",
    ),
    Backend(
        "appointments",
        ("atelier.appointments.v1.AppointmentsService",),
        "ATELIER_APPOINTMENTS_ADDRESS",
    ),
    Backend("campaigns", ("atelier.campaigns.v1.CampaignsService",), "ATELIER_CAMPAIGNS_ADDRESS"),
)


def proto_module(service_full_name: str) -> str:
    """`atelier.customer.v1.CustomerService` → `atelier.customer.v1.customer_service_pb2`.

    Follows the repository convention of one `<snake_service_name>.proto` per service.
    """
    package, _, service = service_full_name.rpartition(".")
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", service).lower()
    return f"{package}.{snake}_pb2"


@dataclass(frozen=True)
class ResolvedBackend:
    name: str
    address: str
    services: tuple[ServiceDescriptor, ...]


def resolve(addresses: dict[str, str], backends: tuple[Backend, ...] = BACKENDS) -> list[ResolvedBackend]:
    """Backends that have an address and importable descriptors."""
    resolved: list[ResolvedBackend] = []
    pool = descriptor_pool.Default()
    for backend in backends:
        address = addresses.get(backend.name, "")
        if not address:
            log.info("gateway: not fronting %s (%s is not set)", backend.name, backend.address_env)
            continue
        services: list[ServiceDescriptor] = []
        for full_name in backend.services:
            module = proto_module(full_name)
            try:
                importlib.import_module(module)
                services.append(pool.FindServiceByName(full_name))
            except ImportError as exc:
                log.warning("gateway: skipping %s: cannot import %s (%s)", full_name, module, exc)
            except KeyError:
                log.warning("gateway: skipping %s: not found in %s", full_name, module)
        if not services:
            log.warning("gateway: not fronting %s: none of its services could be loaded", backend.name)
            continue
        resolved.append(ResolvedBackend(backend.name, address, tuple(services)))
    return resolved
