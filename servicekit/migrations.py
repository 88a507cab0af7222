"""Alembic migrations per service, applied at start.

Each service keeps its own `migrations/` folder (script location). Their env.py is one
call to `run_env()`, so the Alembic wiring exists once. Replicas starting together
serialise on an advisory lock, so only one applies a migration.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from servicekit.db import sqlalchemy_url


def upgrade(database_url: str, script_location: Path, revision: str = "heads") -> None:
    engine = sa.create_engine(sqlalchemy_url(database_url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('atelier-migrations'))"))
            cfg = Config()
            cfg.set_main_option("script_location", str(script_location))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def run_env() -> None:
    """Body of every service's migrations/env.py."""
    from alembic import context

    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("migrations run through servicekit.migrations.upgrade()")
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
