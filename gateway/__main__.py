"""`python -m gateway`: serve the gateway with uvicorn.

On SIGTERM or SIGINT uvicorn stops accepting, drains in-flight requests (up to 20 s), runs
the app's shutdown (closing the gRPC channels), then re-raises the signal; the handler
installed here turns that into a clean exit so buffered spans are flushed and the
process reports success for a graceful stop.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

import uvicorn

from gateway.app import create_app
from gateway.settings import Settings
from servicekit import telemetry
from servicekit.config import ConfigError

GRACEFUL_SHUTDOWN_SECONDS = 20


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> int:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"atelier gateway: {exc}", file=sys.stderr)
        return 2
    telemetry.configure("gateway", settings.log_level)
    try:
        app = create_app(settings)
    except ConfigError as exc:
        print(f"atelier gateway: {exc}", file=sys.stderr)
        return 2
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    try:
        uvicorn.run(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_level=settings.log_level.lower(),
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            # Keep the JSON log handler telemetry installed instead of uvicorn's own.
            log_config=None,
        )
    finally:
        telemetry.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
