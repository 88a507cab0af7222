"""What the associate service costs: a 10,000-client hand-over end to end, and the client
book's latency for a 2,000-client book.

    .venv/bin/python -m bench.associate_bench [--book 10000] [--query-book 2000] [--queries 400]

or from the bench driver: `associate_bench.run(admin_url=..., nats_url=...) -> dict`.

The associate service runs as a process of its own (`python -m services.associate`) on a
fresh database. Books are seeded by COPY (the rules that build books are tested
elsewhere; the bench measures the hand-over and the read, not the seeding).

  handover_seconds: from the DepartAssociate call until every customer of the book has
      a new primary associate AND every assignment_changed event is acknowledged by
      JetStream (outbox rows marked published) — spread by load over 5 colleagues.
  book_p50_ms / book_p99_ms: sequential ListClientBook calls (page of 50, newest contact
      first, then by lifetime value) as the associate herself, from a Python gRPC client
      (its own overhead is included, so this is an upper bound for the server).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import psycopg
from psycopg import sql

from atelier.associate.v1 import associate_pb2, associate_service_pb2 as api, associate_service_pb2_grpc, store_pb2
from servicekit.auth import PRINCIPAL_METADATA_KEY, Principal, Role, mint_internal_token
from servicekit.embedded import EmbeddedNats, EmbeddedPostgres, ensure_database

HANDOVER_TARGET_SECONDS = 10.0
BOOK_P99_TARGET_MS = 30.0
COLLEAGUES = 5
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serving(address: str) -> bool:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        with grpc.insecure_channel(address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
        return reply.status == health_pb2.HealthCheckResponse.SERVING
    except grpc.RpcError:
        return False


def _start_service(database_url: str, nats_url: str, secret: str, run_id: str, log: Path) -> tuple[subprocess.Popen, str]:
    address = f"127.0.0.1:{_free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATELIER_", "OTEL_"))}
    env.update(
        PYTHONUNBUFFERED="1", ATELIER_DATABASE_URL=database_url, ATELIER_NATS_URL=nats_url,
        ATELIER_GRPC_ADDRESS=address, ATELIER_INTERNAL_SECRET=secret, ATELIER_LOG_LEVEL="WARNING",
        ATELIER_EVENTS_PREFIX=f"b{run_id}", ATELIER_EVENTS_STREAM=f"B{run_id.upper()}",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.associate"], cwd=ROOT, env=env,
        stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while not _serving(address):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"associate service did not start; see {log}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return proc, address


def _metadata(secret: str, principal: Principal) -> tuple:
    return ((PRINCIPAL_METADATA_KEY, mint_internal_token(principal, secret, ttl_seconds=3600)),)


def _seed_book(conn: psycopg.Connection, associate_id: str, size: int, *, with_profiles: bool) -> None:
    """`size` customers held by `associate_id` (and their read-model rows), by COPY."""
    ids = [f"c-{associate_id}-{i:06d}" for i in range(size)]
    with conn.cursor().copy("COPY assignments (customer_id, associate_id, role, reason) FROM STDIN") as copy:
        for cid in ids:
            copy.write_row((cid, associate_id, 1, 2))
    if with_profiles:
        with conn.cursor().copy(
            "COPY book_customers (customer_id, given_name, family_name, home_store, tier, tags, lifetime_value, "
            "currency, order_count, last_contact_time, last_purchase_time) FROM STDIN"
        ) as copy:
            for i, cid in enumerate(ids):
                contact = f"2026-{1 + i % 11:02d}-{1 + i % 27:02d} 10:{i % 60:02d}:00+00"
                copy.write_row((cid, f"Given{i}", f"Family{i}", "stores/bench", 1 + i % 4, ["watches"] if i % 3 else [],
                                str(100 + (i * 37) % 50_000), "EUR", 1 + i % 9, contact, contact))
    conn.execute("UPDATE associates SET book_size = book_size + %s WHERE id = %s", (size, associate_id))


def _measure(address: str, database_url: str, secret: str, book: int, query_book: int, queries: int) -> dict:
    hq = Principal(subject="staff/bench-hq", role=Role.HQ)
    with grpc.insecure_channel(address) as channel:
        stub = associate_service_pb2_grpc.AssociateServiceStub(channel)
        md = _metadata(secret, hq)
        store = stub.CreateStore(api.CreateStoreRequest(
            store=store_pb2.Store(code="BENCH", display_name="Bench", time_zone="Europe/Paris"), store_id="bench"),
            metadata=md)

        def hire(aid: str, capacity: int) -> None:
            stub.CreateAssociate(api.CreateAssociateRequest(
                associate=associate_pb2.Associate(store=store.name, display_name=aid, role=associate_pb2.STAFF_ROLE_ASSOCIATE,
                                                  capacity=capacity),
                associate_id=aid), metadata=md)

        hire("leaving", book)
        hire("reader", query_book)
        for i in range(COLLEAGUES):
            hire(f"colleague-{i}", book)
        with psycopg.connect(database_url, autocommit=True) as conn:
            _seed_book(conn, "leaving", book, with_profiles=False)
            _seed_book(conn, "reader", query_book, with_profiles=True)
            conn.execute("ANALYZE")

            started = time.perf_counter()
            done = stub.DepartAssociate(api.DepartAssociateRequest(name="associates/leaving"), metadata=md, timeout=600)
            assigned = time.perf_counter()
            while True:
                pending = conn.execute(
                    "SELECT count(*) FROM outbox WHERE event_type = 'atelier.associate.assignment_changed' "
                    "AND published_at IS NULL"
                ).fetchone()[0]
                if pending == 0:
                    break
                time.sleep(0.02)
            published = time.perf_counter()
            moved = conn.execute(
                "SELECT count(*) FROM assignments WHERE customer_id LIKE 'c-leaving-%%' AND role = 1 "
                "AND associate_id <> 'leaving'"
            ).fetchone()[0]
            events = conn.execute(
                "SELECT count(*) FROM outbox WHERE event_type = 'atelier.associate.assignment_changed'"
            ).fetchone()[0]

        reader = _metadata(secret, Principal(subject="associates/reader", role=Role.ASSOCIATE,
                                             associate_id="reader", store=store.name))
        latencies: list[float] = []
        orders = ("", "lifetime_value desc")
        for i in range(queries + 20):
            request = api.ListClientBookRequest(parent="associates/reader", page_size=50, order_by=orders[i % 2])
            t0 = time.perf_counter()
            page = stub.ListClientBook(request, metadata=reader)
            elapsed = (time.perf_counter() - t0) * 1000
            if i >= 20:  # warm-up: prepared statements, caches
                latencies.append(elapsed)
            assert len(page.entries) == 50
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return {
        "handover": {
            "book": book, "colleagues": COLLEAGUES, "moved": moved, "events": events, "hand_over_moved": done.moved,
            "assignments_seconds": round(assigned - started, 3), "seconds": round(published - started, 3),
            "target_seconds": HANDOVER_TARGET_SECONDS, "ok": moved == book and published - started <= HANDOVER_TARGET_SECONDS,
        },
        "client_book": {
            "book": query_book, "queries": len(latencies), "page_size": 50,
            "p50_ms": round(statistics.median(latencies), 2), "p99_ms": round(p99, 2),
            "target_p99_ms": BOOK_P99_TARGET_MS, "ok": p99 <= BOOK_P99_TARGET_MS,
        },
    }


def run(*, admin_url: str | None = None, nats_url: str | None = None, book: int = 10_000,
        query_book: int = 2_000, queries: int = 400) -> dict:
    """Measure on the given servers (an admin PostgreSQL URL — a database is created and
    dropped — and a NATS URL with JetStream), or on embedded ones started here."""
    run_id = secrets.token_hex(4)
    secret = "bench-" + secrets.token_hex(16)
    started = []
    with tempfile.TemporaryDirectory(prefix="atelier-assoc-bench-") as tmp:
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
            database = f"atelier_bench_{run_id}_associate"
            ensure_database(admin_url, database)
            database_url = f"{admin_url.rsplit('/', 1)[0]}/{database}"
            proc, address = _start_service(database_url, nats_url, secret, run_id, Path(tmp) / "associate.log")
            try:
                return _measure(address, database_url, secret, book, query_book, queries)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--book", type=int, default=10_000)
    parser.add_argument("--query-book", type=int, default=2_000)
    parser.add_argument("--queries", type=int, default=400)
    args = parser.parse_args()
    result = run(
        admin_url=os.environ.get("ATELIER_BENCH_DATABASE_URL") or None,
        nats_url=os.environ.get("ATELIER_BENCH_NATS_URL") or None,
        book=args.book, query_book=args.query_book, queries=args.queries,
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
