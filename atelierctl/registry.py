"""The one list of processes `atelier up` runs: the services and the gateway.

Add a service here and it is started, given a database and wired into the gateway.
Entries whose module is not in the tree yet are skipped, so a service appears in the
mesh as soon as its package lands.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # short name: process label, ATELIER_<NAME>_ADDRESS, OTEL_SERVICE_NAME suffix
    module: str  # run as `python -m <module>`
    database: str  # the service's own PostgreSQL database

    @property
    def address_env(self) -> str:
        """The gateway's variable holding this service's gRPC address."""
        return f"ATELIER_{self.name.upper()}_ADDRESS"


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("customer", "services.customer", "atelier_customer"),
    ServiceSpec("associate", "services.associate", "atelier_associate"),
    ServiceSpec("appointments", "services.appointments", "atelier_appointments"),
    ServiceSpec("campaigns", "services.campaigns", "atelier_campaigns"),
)

GATEWAY_NAME = "gateway"
GATEWAY_MODULE = "gateway"


def module_runnable(module: str) -> bool:
    """True when `python -m module` would find something to run.

    A package needs a __main__ submodule; a bare package (as the skeleton has) is not
    runnable yet and is treated as absent.
    """
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    if spec.submodule_search_locations is None:  # a plain module
        return True
    # Look on disk rather than find_spec("<module>.__main__"), which would import the
    # package (and all of grpc/SQLAlchemy with it) into the supervisor.
    return any(Path(location, "__main__.py").is_file() for location in spec.submodule_search_locations)


def available_services() -> tuple[ServiceSpec, ...]:
    return tuple(spec for spec in SERVICES if module_runnable(spec.module))
