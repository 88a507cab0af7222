"""Structured JSON logs carrying trace ids, and OpenTelemetry tracing.

Traces are exported over OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT is set; without it
spans are still created (so trace ids appear in logs and travel in NATS headers and gRPC
metadata) but go nowhere.

No personal data in logs: a record carrying a database error (as its exception or as an
argument) is rewritten by `RedactDatabaseErrors` so that it keeps the error's class,
SQLSTATE, constraint and SQL text but none of the values PostgreSQL may quote
(servicekit.db.describe). The filter sits on the process's log handler and on every
servicekit logger (`telemetry.logger`), so it applies whatever handler is installed.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping, MutableMapping

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from servicekit import db

_configured = False


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        extra = getattr(record, "fields", None)
        if isinstance(extra, Mapping):
            entry.update(extra)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


class RedactDatabaseErrors(logging.Filter):
    """Rewrites records that carry a database error so no value it quotes is logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            if db.chain_has_database_error(error):
                record.exc_text = db.safe_traceback(error)
                record.exc_info = None
        if isinstance(record.args, tuple):
            record.args = tuple(_safe_arg(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: _safe_arg(v) for k, v in record.args.items()}
        return True


def _safe_arg(value: object) -> object:
    if isinstance(value, BaseException) and db.is_database_error(value):
        return db.describe(value)
    return value


REDACT_DATABASE_ERRORS = RedactDatabaseErrors()


def logger(name: str) -> logging.Logger:
    """A logger whose records never carry a database error's quoted values."""
    found = logging.getLogger(name)
    if REDACT_DATABASE_ERRORS not in found.filters:
        found.addFilter(REDACT_DATABASE_ERRORS)
    return found


def configure(service_name: str, level: str = "INFO") -> None:
    """Idempotent process-wide set-up of logging and the tracer provider."""
    global _configured
    if _configured:
        return
    _configured = True

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(REDACT_DATABASE_ERRORS)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Third-party chatter at INFO drowns the service's own lines.
    for noisy in ("nats", "alembic", "uvicorn.access", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))

    provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
    )
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def shutdown() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def inject_context(carrier: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Write the current trace context (traceparent / tracestate) into a carrier."""
    propagate.inject(carrier)
    return carrier


def extract_context(carrier: Mapping[str, str]) -> Context:
    return propagate.extract(carrier)
