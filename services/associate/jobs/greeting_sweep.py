"""The greeting sweep: plans the coming birthday and anniversary greetings of every
customer with dates, which rolls to next year the ones nobody closed. The running service
does it every hour (app.py: a periodic job, one replica at a time); greetings are also
planned when a customer is created or her dates change, and the next year's when this
year's is completed or cancelled.

`python -m services.associate.jobs.greeting_sweep` runs it once by hand and exits.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime

from servicekit import db, telemetry
from servicekit.config import ServiceConfig
from servicekit.uow import Transactions

from ..domain.tasks import TaskRuleConfig
from ..usecases import greetings

log = logging.getLogger("atelier.associate.sweep")

# Hourly is plenty: the sweep is idempotent and greetings are due days ahead.
EVERY_SECONDS = 3600.0


async def run(tx: Transactions, config: TaskRuleConfig) -> int:
    """One sweep; returns how many greetings it opened."""
    return await greetings.sweep(tx, datetime.now(UTC), config)


async def once(service: ServiceConfig) -> int:
    engine = db.create_engine(service.database_url)
    try:
        return await run(Transactions(engine), TaskRuleConfig.from_env(os.environ))
    finally:
        await engine.dispose()


def main() -> None:
    service = ServiceConfig.from_env("associate")
    telemetry.configure("atelier-associate-sweep", service.log_level)
    opened = asyncio.run(once(service))
    log.info("greeting sweep opened %d tasks", opened)


if __name__ == "__main__":
    main()
