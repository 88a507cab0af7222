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
import statistics
import time

import grpc
import psycopg

from atelier.associate.v1 import associate_pb2, associate_service_pb2_grpc, store_pb2
from atelier.associate.v1 import associate_service_pb2 as api
from bench.sandbox import service_sandbox
from servicekit.auth import PRINCIPAL_METADATA_KEY, Principal, Role, mint_internal_token

HANDOVER_TARGET_SECONDS = 10.0
BOOK_P99_TARGET_MS = 30.0
COLLEAGUES = 5


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
                copy.write_row(
                    (
                        cid,
                        f"Given{i}",
                        f"Family{i}",
                        "stores/bench",
                        1 + i % 4,
                        ["watches"] if i % 3 else [],
                        str(100 + (i * 37) % 50_000),
                        "EUR",
                        1 + i % 9,
                        contact,
                        contact,
                    )
                )
    conn.execute("UPDATE associates SET book_size = book_size + %s WHERE id = %s", (size, associate_id))


def _measure(address: str, database_url: str, secret: str, book: int, query_book: int, queries: int) -> dict:
    hq = Principal(subject="staff/bench-hq", role=Role.HQ)
    with grpc.insecure_channel(address) as channel:
        stub = associate_service_pb2_grpc.AssociateServiceStub(channel)
        md = _metadata(secret, hq)
        store = stub.CreateStore(
            api.CreateStoreRequest(
                store=store_pb2.Store(code="BENCH", display_name="Bench", time_zone="Europe/Paris"), store_id="bench"
            ),
            metadata=md,
        )

        def hire(aid: str, capacity: int) -> None:
            stub.CreateAssociate(
                api.CreateAssociateRequest(
                    associate=associate_pb2.Associate(
                        store=store.name, display_name=aid, role=associate_pb2.STAFF_ROLE_ASSOCIATE, capacity=capacity
                    ),
                    associate_id=aid,
                ),
                metadata=md,
            )

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

        reader = _metadata(
            secret, Principal(subject="associates/reader", role=Role.ASSOCIATE, associate_id="reader", store=store.name)
        )
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
            "book": book,
            "colleagues": COLLEAGUES,
            "moved": moved,
            "events": events,
            "hand_over_moved": done.moved,
            "assignments_seconds": round(assigned - started, 3),
            "seconds": round(published - started, 3),
            "target_seconds": HANDOVER_TARGET_SECONDS,
            "ok": moved == book and published - started <= HANDOVER_TARGET_SECONDS,
        },
        "client_book": {
            "book": query_book,
            "queries": len(latencies),
            "page_size": 50,
            "p50_ms": round(statistics.median(latencies), 2),
            "p99_ms": round(p99, 2),
            "target_p99_ms": BOOK_P99_TARGET_MS,
            "ok": p99 <= BOOK_P99_TARGET_MS,
        },
    }


def run(
    *,
    admin_url: str | None = None,
    nats_url: str | None = None,
    book: int = 10_000,
    query_book: int = 2_000,
    queries: int = 400,
) -> dict:
    """Measure on the given servers (an admin PostgreSQL URL — a database is created and
    dropped — and a NATS URL with JetStream), or on embedded ones started here."""
    with service_sandbox("associate", admin_url=admin_url, nats_url=nats_url) as box:
        return _measure(box.address, box.database_url, box.secret, book, query_book, queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--book", type=int, default=10_000)
    parser.add_argument("--query-book", type=int, default=2_000)
    parser.add_argument("--queries", type=int, default=400)
    args = parser.parse_args()
    result = run(
        admin_url=os.environ.get("ATELIER_BENCH_DATABASE_URL") or None,
        nats_url=os.environ.get("ATELIER_BENCH_NATS_URL") or None,
        book=args.book,
        query_book=args.query_book,
        queries=args.queries,
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
