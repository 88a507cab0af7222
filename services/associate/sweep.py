"""`python -m services.associate.sweep`: plan the coming birthday and anniversary greetings
once and exit. The running service already does this every hour (a periodic job, one
replica at a time); this entry point is for running it by hand. Greetings are also planned when a customer is created or her dates change, and the next
year's when this year's is completed or cancelled; the sweep rolls the ones nobody closed."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

from servicekit import db, telemetry
from servicekit.config import ServiceConfig

from .task_consumer import TaskRules

log = logging.getLogger("atelier.associate.sweep")


async def sweep(config: ServiceConfig) -> int:
    engine = db.create_engine(config.database_url)
    try:
        return await TaskRules().sweep_greetings(engine, datetime.now(timezone.utc))
    finally:
        await engine.dispose()


def main() -> None:
    config = ServiceConfig.from_env("associate")
    telemetry.configure("atelier-associate-sweep", config.log_level)
    opened = asyncio.run(sweep(config))
    log.info("greeting sweep opened %d tasks", opened)


if __name__ == "__main__":
    main()
