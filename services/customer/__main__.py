"""`python -m services.customer`: run the customer service until SIGTERM."""

from __future__ import annotations

import asyncio

from servicekit import telemetry
from servicekit.config import ServiceConfig

from .app import build


def main() -> None:
    config = ServiceConfig.from_env("customer")
    telemetry.configure("atelier-customer", config.log_level)
    runtime, register = build(config)
    asyncio.run(runtime.run_until_signalled(register))


if __name__ == "__main__":
    main()
