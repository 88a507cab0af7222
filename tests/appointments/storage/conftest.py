"""A migrated database of the appointments service on the session's PostgreSQL, with an
engine wide enough for the concurrency tests (every contender holds a connection)."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest

from servicekit import db, migrations

MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "appointments" / "migrations"
# 100 contenders at once, plus a few for the test's own reads; the embedded PostgreSQL
# allows 200 connections.
POOL = 110


async def migrated(infra, label: str) -> str:
    url = infra.database_url(f"{label}_{secrets.token_hex(3)}")
    await asyncio.to_thread(migrations.upgrade, url, MIGRATIONS)
    return url


@pytest.fixture(scope="module")
async def engine(infra):
    url = await migrated(infra, "appointments")
    engine = db.create_engine(url, pool_size=POOL, max_overflow=0, pool_timeout=60)
    yield engine
    await engine.dispose()
