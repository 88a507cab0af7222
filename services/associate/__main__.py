"""`python -m services.associate`: run the associate service until SIGTERM."""

from __future__ import annotations

import asyncio

from servicekit import telemetry
from servicekit.config import ServiceConfig

from .app import build


async def serve(config: ServiceConfig) -> None:
    # Built inside the running loop: grpc.aio binds its server to the current loop.
    runtime, register = build(config)
    await runtime.run_until_signalled(register)


def main() -> None:
    config = ServiceConfig.from_env("associate")
    telemetry.configure("atelier-associate", config.log_level)
    asyncio.run(serve(config))


if __name__ == "__main__":
    main()
