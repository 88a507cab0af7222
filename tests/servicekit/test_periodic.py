"""Periodic jobs: every replica schedules them, one at a time runs them."""

from __future__ import annotations

import asyncio

from tests.servicekit.support import build, kit_config, migrated_database


async def test_periodic_job_runs_on_one_replica_at_a_time(infra):
    config = kit_config(infra, await migrated_database(infra, "periodic"))
    running, concurrent, runs = 0, [], []

    async def job(replica: str):
        nonlocal running
        running += 1
        concurrent.append(running)
        runs.append(replica)
        await asyncio.sleep(0.3)
        running -= 1

    replicas = []
    for label in ("a", "b"):
        runtime, _, register = build(config)
        runtime.add_periodic("test-job", 0.1, lambda label=label: job(label))
        await runtime.start(register)
        replicas.append(runtime)
    try:
        for _ in range(300):
            if len(runs) >= 4:
                break
            await asyncio.sleep(0.02)
    finally:
        for runtime in replicas:
            await runtime.stop()
    assert len(runs) >= 4
    assert max(concurrent) == 1  # never two replicas inside the job together
