"""PostgreSQL and NATS for a bench run: embedded ones in a temp dir, or the servers named by
ATELIER_BENCH_DATABASE_URL (an admin URL; the bench creates and drops its own database)
and ATELIER_BENCH_NATS_URL (the bench uses its own stream and subject prefix)."""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from atelierctl.embedded import EmbeddedNats, EmbeddedPostgres, ensure_database


@dataclass
class Infra:
    admin_url: str
    nats_url: str
    database: str
    events_prefix: str
    events_stream: str
    embedded_postgres: bool
    embedded_nats: bool
    work_dir: Path
    # name → pid of the servers started here (for the CPU accounting of bench.cpu).
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        base = self.admin_url.rsplit("/", 1)[0]
        return f"{base}/{self.database}"

    def postgres_version(self) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]

    def nats_version(self) -> str:
        import nats

        async def probe() -> str:
            nc = await nats.connect(self.nats_url, connect_timeout=5, allow_reconnect=False)
            try:
                v = nc.connected_server_version
                return f"{v.major}.{v.minor}.{v.patch}"
            finally:
                await nc.close()

        try:
            return asyncio.run(probe())
        except Exception as exc:  # a version is nice to have, never worth failing for
            return f"unknown ({exc})"


@contextmanager
def provide(keep_dir: bool = False) -> Iterator[Infra]:
    """PostgreSQL + NATS for one run; everything started or created here is undone on exit."""
    run_id = secrets.token_hex(4)
    admin_url = os.environ.get("ATELIER_BENCH_DATABASE_URL", "").strip()
    nats_url = os.environ.get("ATELIER_BENCH_NATS_URL", "").strip()
    started: list = []
    tmp = tempfile.mkdtemp(prefix="atelier-bench-")
    try:
        if not admin_url:
            pg = EmbeddedPostgres(Path(tmp) / "pg")
            pg.start()
            started.append(pg)
            admin_url = pg.url()
        if not nats_url:
            nats_server = EmbeddedNats(Path(tmp) / "nats")
            nats_server.start()
            started.append(nats_server)
            nats_url = nats_server.url()
        infra = Infra(
            admin_url=admin_url,
            nats_url=nats_url,
            database=f"atelier_bench_{run_id}_customer",
            events_prefix=f"bench{run_id}",
            events_stream=f"BENCH{run_id.upper()}",
            embedded_postgres="ATELIER_BENCH_DATABASE_URL" not in os.environ,
            embedded_nats="ATELIER_BENCH_NATS_URL" not in os.environ,
            work_dir=Path(tmp),
        )
        for server in started:
            infra.pids["postgres" if isinstance(server, EmbeddedPostgres) else "nats"] = server.pid
        ensure_database(admin_url, infra.database)
        try:
            yield infra
        finally:
            _drop_database(admin_url, infra.database)
            _delete_stream(nats_url, infra.events_stream)
    finally:
        for server in reversed(started):
            server.stop()
        if not keep_dir:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


def _drop_database(admin_url: str, name: str) -> None:
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    except psycopg.Error:
        pass


def _delete_stream(nats_url: str, stream: str) -> None:
    import nats

    async def delete() -> None:
        nc = await nats.connect(nats_url, connect_timeout=5, allow_reconnect=False)
        try:
            await nc.jetstream().delete_stream(stream)
        except Exception:
            pass
        finally:
            await nc.close()

    # Clean-up of a benchmark's stream: a server already gone has nothing left to delete.
    with suppress(Exception):
        asyncio.run(delete())
