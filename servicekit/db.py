"""PostgreSQL access: SQLAlchemy 2 async engine over psycopg 3, one transaction per RPC."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def sqlalchemy_url(url: str, *, driver: str = "psycopg") -> str:
    """Accept plain `postgresql://` URLs (as in the environment) and pick the psycopg driver."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    return parsed.set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """The same URL for psycopg itself (LISTEN connections, COPY, admin)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        # Prepared statements server-side after first use: hot paths are a handful of
        # fixed queries.
        connect_args={"prepare_threshold": 1},
    )


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, without BEGIN/ROLLBACK around each use: for reads that are a single
    statement (or tolerate statements seeing different snapshots), it saves two round
    trips per call. Switching a pooled psycopg connection to autocommit is client-side."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


async def ping(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
