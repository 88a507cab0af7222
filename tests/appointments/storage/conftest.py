"""A migrated database of the appointments service on the session's PostgreSQL, with an
engine wide enough for the concurrency tests (every contender holds a connection)."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa

from servicekit import db, migrations

MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "appointments" / "migrations"
# The concurrency tests hold one connection per contender at once: as many as the server
# can spare (100 on the embedded PostgreSQL, which allows 200 connections; fewer on a
# shared server with the default max_connections of 100), never fewer than 20.
WANTED = 100
MARGIN = 15


async def migrated(infra, label: str) -> str:
    url = infra.database_url(f"{label}_{secrets.token_hex(3)}")
    await asyncio.to_thread(migrations.upgrade, url, MIGRATIONS)
    return url


async def _spare_connections(engine) -> int:
    async with engine.connect() as conn:
        limit = int((await conn.execute(sa.text("SHOW max_connections"))).scalar_one())
        used = int((await conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity"))).scalar_one())
        reserved = int((await conn.execute(sa.text("SHOW superuser_reserved_connections"))).scalar_one())
    return limit - reserved - used - MARGIN


@pytest.fixture(scope="module")
async def contenders(infra) -> int:
    probe = db.create_engine(await migrated(infra, "probe"), pool_size=1, max_overflow=0)
    try:
        return max(20, min(WANTED, await _spare_connections(probe)))
    finally:
        await probe.dispose()


@pytest.fixture(scope="module")
async def engine(infra, contenders):
    url = await migrated(infra, "appointments")
    engine = db.create_engine(url, pool_size=contenders + 5, max_overflow=0, pool_timeout=60)
    yield engine
    await engine.dispose()
