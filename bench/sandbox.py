"""One service process on its own database and event stream, for the standalone
benchmarks (bench/associate_bench.py, bench/customer_data.py): on the given servers or on
embedded PostgreSQL/NATS started here, everything removed afterwards."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import psycopg
from psycopg import sql

from atelierctl.embedded import EmbeddedNats, EmbeddedPostgres, ensure_database, free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Sandbox:
    address: str
    database_url: str
    secret: str
    proc: subprocess.Popen


def _serving(address: str) -> bool:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        with grpc.insecure_channel(address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
        return reply.status == health_pb2.HealthCheckResponse.SERVING
    except grpc.RpcError:
        return False


def _start(service: str, database_url: str, nats_url: str, secret: str, run_id: str, log: Path):
    address = f"127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATELIER_", "OTEL_"))}
    env.update(
        PYTHONUNBUFFERED="1",
        ATELIER_DATABASE_URL=database_url,
        ATELIER_NATS_URL=nats_url,
        ATELIER_GRPC_ADDRESS=address,
        ATELIER_INTERNAL_SECRET=secret,
        ATELIER_LOG_LEVEL="WARNING",
        ATELIER_EVENTS_PREFIX=f"b{run_id}",
        ATELIER_EVENTS_STREAM=f"B{run_id.upper()}",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", f"services.{service}"], cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 90
    while not _serving(address):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{service} service did not start; see {log}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return proc, address


@contextlib.contextmanager
def service_sandbox(service: str, *, admin_url: str | None, nats_url: str | None):
    run_id = secrets.token_hex(4)
    secret = "bench-" + secrets.token_hex(16)
    started = []
    with tempfile.TemporaryDirectory(prefix=f"atelier-{service}-bench-") as tmp:
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
            database = f"atelier_bench_{run_id}_{service}"
            ensure_database(admin_url, database)
            database_url = f"{admin_url.rsplit('/', 1)[0]}/{database}"
            proc, address = _start(service, database_url, nats_url, secret, run_id, Path(tmp) / f"{service}.log")
            try:
                yield Sandbox(address=address, database_url=database_url, secret=secret, proc=proc)
            finally:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                with psycopg.connect(admin_url, autocommit=True) as conn:
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        finally:
            for server in reversed(started):
                server.stop()
