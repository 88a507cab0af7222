"""Configuration from environment variables only, failing fast with a clear message."""

from __future__ import annotations

import os
from dataclasses import dataclass


class ConfigError(RuntimeError):
    pass


def required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required but not set")
    return value


def optional(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def integer(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be an integer, got {raw!r}") from None


@dataclass(frozen=True)
class ServiceConfig:
    """What every Atelier gRPC service needs to run."""

    name: str
    database_url: str
    nats_url: str
    grpc_address: str
    internal_secret: str
    log_level: str
    # Subject prefix and stream name, so installations (or test runs) can share a NATS.
    events_prefix: str = "atelier"
    events_stream: str = "ATELIER"

    @classmethod
    def from_env(cls, name: str) -> ServiceConfig:
        missing = [
            var
            for var in ("ATELIER_DATABASE_URL", "ATELIER_NATS_URL", "ATELIER_INTERNAL_SECRET")
            if not os.environ.get(var, "").strip()
        ]
        if missing:
            raise ConfigError(f"{name} service cannot start: missing environment variable(s) {', '.join(missing)}")
        return cls(
            name=name,
            database_url=required("ATELIER_DATABASE_URL"),
            nats_url=required("ATELIER_NATS_URL"),
            grpc_address=optional("ATELIER_GRPC_ADDRESS", "0.0.0.0:50051"),
            internal_secret=required("ATELIER_INTERNAL_SECRET"),
            log_level=optional("ATELIER_LOG_LEVEL", "INFO").upper(),
            events_prefix=optional("ATELIER_EVENTS_PREFIX", "atelier"),
            events_stream=optional("ATELIER_EVENTS_STREAM", "ATELIER"),
        )
