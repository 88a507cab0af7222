"""The service's migrations apply on an empty database, roll back to nothing, and apply again."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from servicekit.db import sqlalchemy_url
from tests.appointments.storage.conftest import MIGRATIONS, migrated

TABLES = {
    "appointment_types",
    "schedules",
    "schedule_exceptions",
    "bookings",
    "events",
    "invitations",
    "outbox",
    "inbox",
    "idempotency_keys",
}


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return set(conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
    finally:
        engine.dispose()


def _move(url: str, revision: str, down: bool) -> None:
    engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(cfg, revision)
    finally:
        engine.dispose()


async def test_migrations_apply_roll_back_and_apply_again(infra):
    url = await migrated(infra, "appointments_migrations")
    created = await asyncio.to_thread(_tables, url)
    assert created >= TABLES
    await asyncio.to_thread(_move, url, "base", True)
    assert await asyncio.to_thread(_tables, url) <= {"alembic_version"}
    await asyncio.to_thread(_move, url, "heads", False)
    recreated = await asyncio.to_thread(_tables, url)
    assert recreated >= TABLES
