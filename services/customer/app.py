"""The customer service's wiring, all of it: the runtime, the unit-of-work factory, the
servicers of its four gRPC services, the `assignments` and `directory` consumers, the
caller gate, the audit writer, the associate service's client (exports) and the
directory sync job over it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import grpc

from atelier.customer.v1 import (
    customer_service_pb2,
    customer_service_pb2_grpc,
    privacy_service_pb2,
    privacy_service_pb2_grpc,
    purchase_service_pb2,
    purchase_service_pb2_grpc,
    timeline_service_pb2,
    timeline_service_pb2_grpc,
)
from servicekit import telemetry
from servicekit.audit import AuditWriter
from servicekit.callers import CallerGate
from servicekit.config import ServiceConfig, optional
from servicekit.server import ServiceRuntime
from servicekit.uow import Transactions

from .api.customer_service import CustomerServicer
from .api.privacy_service import PrivacyServicer
from .api.purchase_service import PurchaseServicer
from .api.timeline_service import TimelineServicer
from .consumers import assignments, directory
from .domain.computed_tags import TagRules
from .jobs import directory_sync
from .usecases.associate_export import AssociateExports
from .usecases.directory import standings

SERVICE_NAME = customer_service_pb2.DESCRIPTOR.services_by_name["CustomerService"].full_name
PURCHASE_SERVICE_NAME = purchase_service_pb2.DESCRIPTOR.services_by_name["PurchaseService"].full_name
PRIVACY_SERVICE_NAME = privacy_service_pb2.DESCRIPTOR.services_by_name["PrivacyService"].full_name
TIMELINE_SERVICE_NAME = timeline_service_pb2.DESCRIPTOR.services_by_name["TimelineService"].full_name
MIGRATIONS = Path(__file__).parent / "migrations"
# host:port of the associate service (exports gather what it holds about a customer; the
# directory sync reads its stores and staff).
ASSOCIATE_ADDRESS = "ATELIER_ASSOCIATE_ADDRESS"

log = telemetry.logger("atelier.customer")


def build(
    config: ServiceConfig, *, tag_rules: TagRules | None = None, associate_address: str | None = None
) -> tuple[ServiceRuntime, Callable[[grpc.aio.Server], None]]:
    """The runtime and the function registering the servicers on its server (built inside
    the running loop: grpc.aio binds its server to the current loop). `associate_address`
    (default: ATELIER_ASSOCIATE_ADDRESS) is where exports ask the associate service for
    what it holds about a customer and the directory sync reads its stores and staff."""
    # Computed-tag thresholds are configuration, read once here.
    rules = tag_rules or TagRules.from_env(os.environ)
    address = associate_address if associate_address is not None else optional(ASSOCIATE_ADDRESS, "")
    associate = AssociateExports(address) if address else None
    if associate is None:
        log.warning(
            "%s is not set: exports will say they lack the associate service's data, and the directory of "
            "stores and staff is kept from events only (no directory sync)",
            ASSOCIATE_ADDRESS,
        )
    runtime = ServiceRuntime(
        config,
        grpc_services=[SERVICE_NAME, PURCHASE_SERVICE_NAME, TIMELINE_SERVICE_NAME, PRIVACY_SERVICE_NAME],
        migrations_dir=MIGRATIONS,
    )
    tx = Transactions(runtime.engine)

    runtime.add_consumer(purpose="assignments", event_types=assignments.EVENT_TYPES, handler=assignments.handle)
    runtime.add_consumer(purpose="directory", event_types=directory.EVENT_TYPES, handler=directory.handle)
    # Every RPC: a member of staff the directory knows as departed, on leave, moved to
    # another store or no longer holding the role her token claims is refused, whatever
    # her token says (servicekit.callers).
    runtime.set_caller_gate(CallerGate(standings(tx)))
    # The directory is also reconciled with the associate service's own answers: once at
    # start, then periodically (events older than the stream's window never arrive).
    sync = directory_sync.DirectorySync(tx, associate, config.internal_secret) if associate is not None else None
    if sync is not None:
        runtime.add_periodic(directory_sync.NAME, directory_sync.EVERY_SECONDS, sync.round)
        runtime.on_drained(sync.close)

    # Audit records of reads are batched in memory and written every ~100 ms; the last
    # ones are flushed once in-flight calls have drained at shutdown.
    audit = AuditWriter(runtime.engine)
    runtime.on_drained(audit.close)
    if associate is not None:
        runtime.on_drained(associate.close)

    def register(server: grpc.aio.Server) -> None:
        customer_service_pb2_grpc.add_CustomerServiceServicer_to_server(CustomerServicer(tx, rules, audit), server)
        purchase_service_pb2_grpc.add_PurchaseServiceServicer_to_server(PurchaseServicer(tx, rules, audit), server)
        timeline_service_pb2_grpc.add_TimelineServiceServicer_to_server(TimelineServicer(tx, audit), server)
        privacy_service_pb2_grpc.add_PrivacyServiceServicer_to_server(PrivacyServicer(tx, rules, associate), server)
        # Called once migrations are applied, inside the running loop.
        if sync is not None:
            sync.start()

    return runtime, register
