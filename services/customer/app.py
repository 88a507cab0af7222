"""Wiring of the customer service: runtime, servicer, (later) event consumers."""

from __future__ import annotations

from pathlib import Path

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
from servicekit.audit import AuditWriter
from servicekit.config import ServiceConfig
from servicekit.server import ServiceRuntime

from . import assignment_feed
from .domain.computed_tags import TagRules
from .privacy_servicer import PrivacyServicer
from .purchase_servicer import PurchaseServicer
from .servicer import CustomerServicer
from .timeline_servicer import TimelineServicer

SERVICE_NAME = customer_service_pb2.DESCRIPTOR.services_by_name["CustomerService"].full_name
PURCHASE_SERVICE_NAME = purchase_service_pb2.DESCRIPTOR.services_by_name["PurchaseService"].full_name
PRIVACY_SERVICE_NAME = privacy_service_pb2.DESCRIPTOR.services_by_name["PrivacyService"].full_name
TIMELINE_SERVICE_NAME = timeline_service_pb2.DESCRIPTOR.services_by_name["TimelineService"].full_name
MIGRATIONS = Path(__file__).parent / "migrations"


def build(config: ServiceConfig, *, tag_rules: TagRules | None = None):
    # Computed-tag thresholds are configuration, read once here.
    tag_rules = tag_rules or TagRules.from_env()
    runtime = ServiceRuntime(
        config,
        grpc_services=[SERVICE_NAME, PURCHASE_SERVICE_NAME, TIMELINE_SERVICE_NAME, PRIVACY_SERVICE_NAME],
        migrations_dir=MIGRATIONS,
    )

    runtime.add_consumer(purpose="assignments", event_types=assignment_feed.EVENT_TYPES, handler=assignment_feed.handle)

    # Audit records of reads are batched in memory and written every ~100 ms; the last
    # ones are flushed once in-flight calls have drained at shutdown.
    audit_writer = AuditWriter(runtime.engine)
    runtime.on_drained(audit_writer.close)

    def register(server) -> None:
        customer_service_pb2_grpc.add_CustomerServiceServicer_to_server(
            CustomerServicer(runtime.engine, tag_rules, audit_writer), server
        )
        privacy_service_pb2_grpc.add_PrivacyServiceServicer_to_server(
            PrivacyServicer(runtime.engine, tag_rules), server
        )
        purchase_service_pb2_grpc.add_PurchaseServiceServicer_to_server(
            PurchaseServicer(runtime.engine, tag_rules), server
        )
        timeline_service_pb2_grpc.add_TimelineServiceServicer_to_server(TimelineServicer(runtime.engine, audit_writer), server)

    return runtime, register
